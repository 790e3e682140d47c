package dev.upcycle.plan.target;

import dev.upcycle.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The oldest Hugging Face transformers release that loads a target family's output exactly, as
 * data: the release that added the family, and the later releases that a feature of a particular
 * output needs (each target lists its own). The floor of an output is the highest of those whose
 * feature it uses. "Exactly" means the weights load into the shapes and the forward computes what
 * the config says; an older release may load the files and compute something else (a head_dim it
 * ignores gives wrong shapes) or refuse them.
 *
 * @param base   the first release with the family
 * @param family the family as people name it ({@code Qwen2-MoE})
 * @param rules  features that need a later release than {@code base}
 */
public record TransformersFloor(String base, String family, List<Rule> rules) {

    public TransformersFloor {
        rules = List.copyOf(rules);
    }

    /** What an output may use that not every release reads. */
    public enum Feature {
        /** An explicit head_dim other than hidden_size / num_attention_heads. */
        HEAD_DIM(c -> (long) c.headDim() * c.numAttentionHeads() != c.hiddenSize()),
        /** RoPE scaling of rope_type llama3 (Llama 3.1 and later). */
        LLAMA3_ROPE(c -> c.rope().scaling() != null && "llama3".equals(c.rope().scaling().path("rope_type").asText()));

        private final Predicate<ModelConfig> usedBy;

        Feature(Predicate<ModelConfig> usedBy) {
            this.usedBy = usedBy;
        }

        public boolean usedBy(ModelConfig c) {
            return usedBy.test(c);
        }
    }

    /** {@code feature} is read correctly from release {@code since} on; {@code why} says so in words. */
    public record Rule(Feature feature, String since, String why) {
    }

    /**
     * The floor of one output.
     *
     * @param version the oldest release that loads it exactly
     * @param reasons why it is above the family's base release (empty when it is not)
     */
    public record Floor(String version, List<String> reasons) {
        public Floor {
            reasons = List.copyOf(reasons);
        }

        /** {@code >= 4.53 (Qwen2-MoE reads head_dim only from 4.53)}, or {@code >= 4.36}. */
        public String describe() {
            return ">= " + version + (reasons.isEmpty() ? "" : " (" + String.join("; ", reasons) + ")");
        }
    }

    /** The floor of {@code output}, a config of this family. */
    public Floor of(ModelConfig output) {
        String version = base;
        for (Rule r : rules) {
            if (r.feature().usedBy(output) && compare(r.since(), version) > 0) {
                version = r.since();
            }
        }
        List<String> reasons = new ArrayList<>();
        for (Rule r : rules) {
            if (r.feature().usedBy(output) && compare(r.since(), base) > 0 && compare(r.since(), version) == 0) {
                reasons.add(r.why());
            }
        }
        return new Floor(version, reasons);
    }

    /** Compares dotted release numbers numerically ({@code 4.9 < 4.10}). */
    static int compare(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(i < x.length ? Integer.parseInt(x[i]) : 0, i < y.length ? Integer.parseInt(y[i]) : 0);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }
}
