package dev.upcycle.recipe;

import java.util.List;
import java.util.Objects;

/**
 * A mergekit-moe configuration file (docs/mergekit.md), as read: mergekit's own keys with their
 * meaning, and this project's additions from the {@code upcycle:} mapping. Model references are
 * kept as written; the command resolves them (directories against the file's directory, else
 * model ids in the Hugging Face cache).
 *
 * @param file            the file read (messages and upcycle.json)
 * @param text            its content, verbatim
 * @param baseModel       {@code base_model}: attention, norms, embeddings and head
 * @param experts         {@code experts}: routed expert i's MLP comes from experts[i]
 * @param gateMode        {@code gate_mode}
 * @param dtype           {@code dtype} as f32, f16 or bf16, or null to keep the sources' dtypes
 * @param expertsPerToken {@code experts_per_token}
 * @param sharedExperts   {@code shared_experts} (empty when absent)
 * @param architecture    {@code architecture} (a prefix of an output architecture name), or null
 * @param additions       the {@code upcycle:} mapping
 */
public record MergekitConfig(java.nio.file.Path file, String text, String baseModel, List<Expert> experts,
                             GateMode gateMode, String dtype, int expertsPerToken, List<Expert> sharedExperts,
                             String architecture, Additions additions) {
    public MergekitConfig {
        Objects.requireNonNull(baseModel, "baseModel");
        experts = List.copyOf(experts);
        sharedExperts = List.copyOf(sharedExperts);
        Objects.requireNonNull(gateMode, "gateMode");
        Objects.requireNonNull(additions, "additions");
    }

    /**
     * One expert: a model whose MLP becomes the expert, the prompts its router row comes from, and
     * the noise and down-projection scale mergekit applies to its weights.
     *
     * @param noiseScale    standard deviation of the noise added to every weight, or null
     * @param residualScale factor on down_proj, or null
     */
    public record Expert(String sourceModel, List<String> positivePrompts, List<String> negativePrompts,
                         Double noiseScale, Double residualScale) {
        public Expert {
            Objects.requireNonNull(sourceModel, "sourceModel");
            positivePrompts = List.copyOf(positivePrompts);
            negativePrompts = List.copyOf(negativePrompts);
        }
    }

    /** mergekit's {@code gate_mode} values; {@code hidden} is {@code hidden_last}. */
    public enum GateMode {
        HIDDEN_LAST("hidden_last"),
        HIDDEN_AVG("hidden_avg"),
        CHEAP_EMBED("cheap_embed"),
        RANDOM("random"),
        UNIFORM_RANDOM("uniform_random");

        private final String key;

        GateMode(String key) {
            this.key = key;
        }

        /** The value as mergekit spells it. */
        public String key() {
            return key;
        }

        /** Whether the rows come from prompts run through the base model (not drawn at random). */
        public boolean fromPrompts() {
            return this != RANDOM && this != UNIFORM_RANDOM;
        }
    }

    /**
     * This project's keys, under {@code upcycle:}; null where the file leaves the default.
     *
     * @param seed         seeds random gates and noise
     * @param routing      topk-softmax or softmax-topk
     * @param maxShardSize the largest output shard, as convert's --max-shard-size
     * @param allowNonfinite convert weights holding NaN or Inf
     * @param scaling      convert's --scaling, for experts that are all the base model's MLP
     * @param granularity  convert's --granularity, likewise
     * @param attention    moa-separate or moa-shared-kv: attention expert i copies experts[i]'s model's attention
     * @param attentionTopK attention experts per token (soft routing when absent)
     * @param attentionRouterInit random or zero
     * @param sharedKvInit mean or seed:X, where moa-shared-kv's shared k and v come from
     */
    public record Additions(Long seed, String routing, String maxShardSize, Boolean allowNonfinite, String scaling,
                            Integer granularity, String attention, Integer attentionTopK, String attentionRouterInit,
                            String sharedKvInit) {
        public static final Additions NONE = new Additions(null, null, null, null, null, null, null, null, null, null);
    }

    /** The routed experts then the shared ones, in the order mergekit stacks their gate rows. */
    public List<Expert> gates() {
        List<Expert> all = new java.util.ArrayList<>(experts);
        all.addAll(sharedExperts);
        return all;
    }
}
