package dev.upcycle.runtime;

import dev.upcycle.model.FamilyRegistry;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Router rows computed from prompts run through the base model, as mergekit-moe's {@code hidden}
 * and {@code cheap_embed} gate modes define them (docs/mergekit.md).
 */
public final class PromptGates {
    private PromptGates() {
    }

    /** Which representation of the prompts becomes a gate row. */
    public enum Mode {
        /** The hidden state at each decoder layer's input, at the prompt's last token (mergekit {@code hidden}). */
        HIDDEN_LAST,
        /** The same, averaged over the prompt's tokens (mergekit {@code hidden_avg}). */
        HIDDEN_AVG,
        /** The sum of the prompts' token embeddings, the same row for every layer (mergekit {@code cheap_embed}). */
        CHEAP_EMBED
    }

    /**
     * One gate's prompts, already tokenized (the beginning-of-sequence token included where the
     * tokenizer has one).
     */
    public record GatePrompts(List<int[]> positive, List<int[]> negative) {
        public GatePrompts {
            Objects.requireNonNull(positive, "positive");
            negative = negative == null ? List.of() : negative;
        }
    }

    /**
     * One unit-length row per gate for every decoder layer, from the model in {@code baseModelDir},
     * read one layer at a time.
     *
     * @return {@code [layers][gates.size() * hidden]}, row-major
     */
    public static float[][] compute(Path baseModelDir, FamilyRegistry families, Mode mode, List<GatePrompts> gates) {
        throw new UnsupportedOperationException("prompt gates are not computed yet");
    }
}
