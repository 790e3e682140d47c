package dev.upcycle.runtime;

import dev.upcycle.data.TokenData;
import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
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
     * <p>Each prompt runs on its own (no padding) through this project's FP32 runtime; the hidden
     * modes hold only the prompts' hidden states ({@code tokens × d} floats) besides one layer's
     * weights, and {@code cheap_embed} reads only the prompts' embedding rows.
     *
     * @return {@code [layers][gates.size() * hidden]}, row-major; each gate's row has unit length
     *         (a zero row, where positive and negative prompts cancel, stays zero)
     * @throws UpcycleException InvalidData when there is no gate, a gate has no positive prompt or a
     *         prompt has no token; ImpossibleCombination when a token is outside the vocabulary;
     *         as {@link WeightSource#open} for the model (and, for the hidden modes, UnsupportedArchitecture
     *         when the runtime cannot run it)
     */
    public static float[][] compute(Path baseModelDir, FamilyRegistry families, Mode mode, List<GatePrompts> gates) {
        Objects.requireNonNull(mode, "mode");
        requirePrompts(gates);
        if (mode == Mode.CHEAP_EMBED) {
            try (WeightSource src = WeightSource.open(baseModelDir, families)) {
                requireInVocabulary(gates, src.config().vocabSize());
                return cheapEmbed(src, gates);
            }
        }
        WeightSource src = CausalLm.openSupported(baseModelDir, families);
        try {
            requireInVocabulary(gates, src.config().vocabSize());
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
        List<int[]> sequences = new ArrayList<>();
        gates.forEach(g -> {
            sequences.addAll(g.positive());
            sequences.addAll(g.negative());
        });
        try (LayerStream stream = LayerStream.over(src, sequences)) {
            return hidden(stream, mode, gates);
        }
    }

    /**
     * mergekit's {@code output.hidden_states[:-1]}: the input of layer {@code i} is the embedding
     * for {@code i = 0} and the residual stream after layer {@code i - 1} otherwise, so the last
     * layer is never run.
     */
    private static float[][] hidden(LayerStream stream, Mode mode, List<GatePrompts> gates) {
        ModelConfig c = stream.config();
        int d = c.hiddenSize();
        int layers = c.numHiddenLayers();
        float[][] out = new float[layers][gates.size() * d];
        List<float[]> states = stream.hidden();
        for (int layer = 0; layer < layers; layer++) {
            Cancellation.check();
            int at = 0;
            for (int g = 0; g < gates.size(); g++) {
                GatePrompts gate = gates.get(g);
                double[] row = meanState(states, at, gate.positive(), mode, d);
                at += gate.positive().size();
                if (!gate.negative().isEmpty()) {
                    subtract(row, meanState(states, at, gate.negative(), mode, d));
                    at += gate.negative().size();
                }
                writeUnit(row, out[layer], g * d);
            }
            if (layer + 1 < layers) {
                states = stream.step();
            }
        }
        return out;
    }

    /**
     * The mean over {@code prompts} (whose states start at {@code states[first]}) of each prompt's
     * last-token state, or of its mean over the prompt's tokens.
     */
    private static double[] meanState(List<float[]> states, int first, List<int[]> prompts, Mode mode, int d) {
        double[] sum = new double[d];
        for (int p = 0; p < prompts.size(); p++) {
            float[] h = states.get(first + p);
            int t = prompts.get(p).length;
            if (mode == Mode.HIDDEN_LAST) {
                for (int j = 0; j < d; j++) {
                    sum[j] += h[(t - 1) * d + j];
                }
            } else {
                double[] avg = new double[d];
                for (int i = 0; i < t; i++) {
                    for (int j = 0; j < d; j++) {
                        avg[j] += h[i * d + j];
                    }
                }
                for (int j = 0; j < d; j++) {
                    sum[j] += avg[j] / t;
                }
            }
        }
        for (int j = 0; j < d; j++) {
            sum[j] /= prompts.size();
        }
        return sum;
    }

    /**
     * mergekit's {@code cheap_embed}: the embedding rows of every token of the positive prompts
     * summed and normalised, minus the same of the negative prompts, normalised again; one row
     * read per token, the same gate rows for every layer.
     */
    private static float[][] cheapEmbed(WeightSource src, List<GatePrompts> gates) {
        ModelConfig c = src.config();
        int d = c.hiddenSize();
        float[] rows = new float[gates.size() * d];
        for (int g = 0; g < gates.size(); g++) {
            Cancellation.check();
            GatePrompts gate = gates.get(g);
            double[] row = unit(embeddingSum(src, gate.positive(), d));
            if (!gate.negative().isEmpty()) {
                subtract(row, unit(embeddingSum(src, gate.negative(), d)));
            }
            writeUnit(row, rows, g * d);
        }
        float[][] out = new float[c.numHiddenLayers()][];
        for (int layer = 0; layer < out.length; layer++) {
            out[layer] = rows.clone();
        }
        return out;
    }

    private static double[] embeddingSum(WeightSource src, List<int[]> prompts, int d) {
        double[] sum = new double[d];
        for (int[] ids : prompts) {
            for (int id : ids) {
                float[] e = src.rows(TensorRole.EMBED, -1, -1, id, 1);
                for (int j = 0; j < d; j++) {
                    sum[j] += e[j];
                }
            }
        }
        return sum;
    }

    private static void subtract(double[] a, double[] b) {
        for (int j = 0; j < a.length; j++) {
            a[j] -= b[j];
        }
    }

    /** {@code v / max(|v|, 1e-8)}, in place, as mergekit clamps the norm. */
    private static double[] unit(double[] v) {
        double sq = 0;
        for (double x : v) {
            sq += x * x;
        }
        double norm = Math.max(Math.sqrt(sq), NORM_FLOOR);
        for (int j = 0; j < v.length; j++) {
            v[j] /= norm;
        }
        return v;
    }

    private static void writeUnit(double[] row, float[] out, int at) {
        unit(row);
        for (int j = 0; j < row.length; j++) {
            out[at + j] = (float) row[j];
        }
    }

    /** The smallest norm a row is divided by, so a zero row stays zero instead of becoming NaN. */
    static final double NORM_FLOOR = 1e-8;

    /** Refuses no gates, a gate without positive prompts, and a prompt without tokens. */
    private static void requirePrompts(List<GatePrompts> gates) {
        if (gates == null || gates.isEmpty()) {
            throw new UpcycleException(ErrorKind.InvalidData, "prompt gates", "no gates to compute");
        }
        for (int g = 0; g < gates.size(); g++) {
            GatePrompts gate = gates.get(g);
            if (gate.positive().isEmpty()) {
                throw new UpcycleException(ErrorKind.InvalidData, "gate " + g, "no positive prompts",
                        "give each expert at least one positive prompt");
            }
            requireTokens(gate.positive(), "gate " + g + ", positive prompt ");
            requireTokens(gate.negative(), "gate " + g + ", negative prompt ");
        }
    }

    private static void requireTokens(List<int[]> prompts, String where) {
        for (int p = 0; p < prompts.size(); p++) {
            if (prompts.get(p) == null || prompts.get(p).length == 0) {
                throw new UpcycleException(ErrorKind.InvalidData, where + p, "the prompt has no token");
            }
        }
    }

    private static void requireInVocabulary(List<GatePrompts> gates, int vocab) {
        for (int g = 0; g < gates.size(); g++) {
            List<int[]> pos = gates.get(g).positive();
            for (int p = 0; p < pos.size(); p++) {
                TokenData.requireInVocabulary(pos.get(p), vocab, "gate " + g + ", positive prompt " + p);
            }
            List<int[]> neg = gates.get(g).negative();
            for (int p = 0; p < neg.size(); p++) {
                TokenData.requireInVocabulary(neg.get(p), vocab, "gate " + g + ", negative prompt " + p);
            }
        }
    }
}
