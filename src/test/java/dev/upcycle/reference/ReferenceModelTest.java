package dev.upcycle.reference;

import static dev.upcycle.testing.TinyModels.config;
import static dev.upcycle.testing.TinyModels.identity;
import static dev.upcycle.testing.TinyModels.random;
import static dev.upcycle.testing.TinyModels.write;
import static dev.upcycle.testing.TinyModels.zeros;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pins the dense semantics of {@link ReferenceModel} with hand-computable and invariance cases. */
class ReferenceModelTest {

    @TempDir
    Path tmp;

    private int dirs;

    private Path dir() {
        return tmp.resolve("m" + dirs++);
    }

    static String name(ModelConfig c, TensorRole role, int layer) {
        return c.family().tensorName(role, layer, -1);
    }

    static double[][] logits(Path dir, int... tokens) {
        try (ReferenceModel m = ReferenceModel.open(dir)) {
            return m.logits(tokens);
        }
    }

    /** {@code x / sqrt(mean(x²) + eps)}, written out independently of the model code. */
    private static double[] norm(double[] x, double eps) {
        double ms = 0;
        for (double v : x) {
            ms += v * v / x.length;
        }
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] / Math.sqrt(ms + eps);
        }
        return out;
    }

    @Test
    void rmsNormValue() {
        // mean(3², 4²) = 12.5; 1/sqrt(12.5 + 0.5) = 1/sqrt(13)
        double[] y = ReferenceLayer.rmsNorm(new double[] {3, 4}, new double[] {1, 2}, 0.5);
        assertThat(y[0]).isCloseTo(3 / Math.sqrt(13), within(1e-15));
        assertThat(y[1]).isCloseTo(8 / Math.sqrt(13), within(1e-15));
    }

    /**
     * One llama layer, d = 2, one head: q = k = 0 (uniform attention), v = o = I, zero MLP.
     * Then position 0 attends only to itself, position 1 averages positions 0 and 1, and the
     * logits are {@code lm_head · (norm(h) * w_final)}.
     */
    @Test
    void handComputedAttentionLayer() {
        ModelConfig c = config("llama", 3, 2, 2, 1, 1, 2).build();
        Map<String, float[]> w = new HashMap<>();
        w.put(name(c, TensorRole.EMBED, -1), new float[] {3, 4, 1, 0, 0, 2});
        w.put(name(c, TensorRole.ATTN_NORM, 0), new float[] {1, 1});
        w.put(name(c, TensorRole.MLP_NORM, 0), new float[] {1, 1});
        w.put(name(c, TensorRole.FINAL_NORM, -1), new float[] {1, 2});
        w.put(name(c, TensorRole.ATTN_Q, 0), zeros(4));
        w.put(name(c, TensorRole.ATTN_K, 0), zeros(4));
        w.put(name(c, TensorRole.ATTN_V, 0), identity(2));
        w.put(name(c, TensorRole.ATTN_O, 0), identity(2));
        w.put(name(c, TensorRole.MLP_GATE, 0), zeros(4));
        w.put(name(c, TensorRole.MLP_UP, 0), zeros(4));
        w.put(name(c, TensorRole.MLP_DOWN, 0), zeros(4));
        w.put(name(c, TensorRole.LM_HEAD, -1), new float[] {1, 0, 0, 1, 1, 1});
        double[][] logits = logits(write(dir(), c, w), 0, 1);

        double eps = 1e-6;
        double[] e0 = {3, 4};
        double[] e1 = {1, 0};
        double[] n0 = norm(e0, eps);
        double[] n1 = norm(e1, eps);
        double[] h0 = {e0[0] + n0[0], e0[1] + n0[1]};
        double[] h1 = {e1[0] + (n0[0] + n1[0]) / 2, e1[1] + (n0[1] + n1[1]) / 2};
        double[][] h = {h0, h1};
        for (int t = 0; t < 2; t++) {
            double[] f = norm(h[t], eps);
            double a = f[0];
            double b = 2 * f[1];
            assertThat(logits[t]).containsExactly(new double[] {a, b, a + b}, within(1e-12));
        }
    }

    /** Llama with {@code mlp_bias}: zero attention, gate = up = down = I, down bias b: out = x + silu(n)·n + b. */
    @Test
    void handComputedMlpWithBiases() {
        ModelConfig c = config("llama", 2, 2, 2, 1, 1, 2).mlpBias(true).eosTokenId(0).build();
        Map<String, float[]> w = new HashMap<>();
        w.put(name(c, TensorRole.EMBED, -1), new float[] {0.5f, -1.5f, 2, 1});
        w.put(name(c, TensorRole.ATTN_NORM, 0), new float[] {1, 1});
        w.put(name(c, TensorRole.MLP_NORM, 0), new float[] {1, 1});
        w.put(name(c, TensorRole.FINAL_NORM, -1), new float[] {1, 1});
        w.put(name(c, TensorRole.ATTN_V, 0), zeros(4));
        w.put(name(c, TensorRole.ATTN_O, 0), zeros(4));
        w.put(name(c, TensorRole.MLP_GATE, 0), identity(2));
        w.put(name(c, TensorRole.MLP_UP, 0), identity(2));
        w.put(name(c, TensorRole.MLP_DOWN, 0), identity(2));
        w.put(name(c, TensorRole.MLP_GATE_BIAS, 0), zeros(2));
        w.put(name(c, TensorRole.MLP_UP_BIAS, 0), new float[] {0, 1});
        w.put(name(c, TensorRole.MLP_DOWN_BIAS, 0), new float[] {0.25f, -1});
        w.put(name(c, TensorRole.LM_HEAD, -1), identity(2));
        double[][] logits = logits(write(dir(), c, w), 0);

        double[] x = {0.5, -1.5};
        double[] n = norm(x, 1e-6);
        double[] out = {
            x[0] + n[0] / (1 + Math.exp(-n[0])) * n[0] + 0.25,
            x[1] + n[1] / (1 + Math.exp(-n[1])) * (n[1] + 1) - 1};
        assertThat(logits[0]).containsExactly(norm(out, 1e-6), within(1e-12));
    }

    @Test
    void causalMaskLaterTokensDoNotChangeEarlierLogits() {
        ModelConfig c = config("llama", 16, 16, 24, 4, 2, 4).numHiddenLayers(2).build();
        Path d = write(dir(), c, random(c, 1));
        double[][] a = logits(d, 1, 2, 3, 4, 5);
        double[][] b = logits(d, 1, 2, 3, 9, 0);
        for (int t = 0; t < 3; t++) {
            assertThat(b[t]).containsExactly(a[t]);
        }
        assertThat(b[3]).isNotEqualTo(a[3]);
    }

    /** With window w a token sees keys j with i - j < w: one layer, w = 2, position 3 sees 2 and 3 only. */
    @Test
    void mistralSlidingWindow() {
        ModelConfig windowed = config("mistral", 16, 16, 24, 4, 2, 4).slidingWindow(2).build();
        ModelConfig full = windowed.toBuilder().slidingWindow(null).build();
        Map<String, float[]> w = random(windowed, 2);
        assertWindow(write(dir(), windowed, w), true);
        assertWindow(write(dir(), full, w), false);
    }

    /** Qwen2: the window applies iff use_sliding_window and layer >= max_window_layers. */
    @Test
    void qwen2SlidingWindowOnlyFromMaxWindowLayers() {
        ModelConfig sliding = config("qwen2", 16, 16, 24, 4, 2, 4).useSlidingWindow(true).slidingWindow(2)
                .maxWindowLayers(0).build();
        Map<String, float[]> w = random(sliding, 3);
        assertWindow(write(dir(), sliding, w), true);
        assertWindow(write(dir(), sliding.toBuilder().maxWindowLayers(1).build(), w), false);
        assertWindow(write(dir(), sliding.toBuilder().useSlidingWindow(false).build(), w), false);
    }

    private static void assertWindow(Path d, boolean windowed) {
        double[][] a = logits(d, 1, 2, 3, 4, 5);
        double[][] b = logits(d, 7, 8, 3, 4, 5); // positions 0 and 1 changed
        assertThat(b[2]).isNotEqualTo(a[2]); // position 2 sees position 1 either way
        if (windowed) {
            assertThat(b[3]).containsExactly(a[3]);
            assertThat(b[4]).containsExactly(a[4]);
        } else {
            assertThat(b[3]).isNotEqualTo(a[3]);
            assertThat(b[4]).isNotEqualTo(a[4]);
        }
    }

    /** h = 4, kv = 2 equals h = kv = 4 with each kv head duplicated for query heads 2j and 2j+1. */
    @Test
    void gqaSharesKvHeadAcrossGroup() {
        int hd = 4;
        int d = 16;
        ModelConfig gqa = config("qwen2", 20, d, 24, 4, 2, hd).numHiddenLayers(2).build();
        ModelConfig mha = gqa.toBuilder().numKeyValueHeads(4).build();
        Map<String, float[]> w = random(gqa, 4);
        Map<String, float[]> expanded = new HashMap<>(w);
        for (int layer = 0; layer < 2; layer++) {
            for (TensorRole role : new TensorRole[] {TensorRole.ATTN_K, TensorRole.ATTN_V}) {
                expanded.put(name(gqa, role, layer), repeatHeads(w.get(name(gqa, role, layer)), 2, hd * d));
            }
            for (TensorRole role : new TensorRole[] {TensorRole.ATTN_K_BIAS, TensorRole.ATTN_V_BIAS}) {
                expanded.put(name(gqa, role, layer), repeatHeads(w.get(name(gqa, role, layer)), 2, hd));
            }
        }
        double[][] a = logits(write(dir(), gqa, w), 3, 1, 4, 1, 5);
        double[][] b = logits(write(dir(), mha, expanded), 3, 1, 4, 1, 5);
        assertThat(RelativeError.of(a, b)).isLessThan(1e-14);
    }

    /** Rows of head j become rows of heads 2j and 2j+1 ({@code repeat_kv}). */
    private static float[] repeatHeads(float[] v, int rep, int perHead) {
        int heads = v.length / perHead;
        float[] out = new float[v.length * rep];
        for (int h = 0; h < heads; h++) {
            for (int r = 0; r < rep; r++) {
                System.arraycopy(v, h * perHead, out, (h * rep + r) * perHead, perHead);
            }
        }
        return out;
    }

    @Test
    void tiedEmbeddingsUseTheEmbeddingAsHead() {
        ModelConfig tied = config("qwen2", 20, 16, 24, 4, 2, 4).tieWordEmbeddings(true).build();
        ModelConfig untied = tied.toBuilder().tieWordEmbeddings(false).build();
        Map<String, float[]> w = random(tied, 5);
        Map<String, float[]> withHead = new HashMap<>(w);
        withHead.put(name(untied, TensorRole.LM_HEAD, -1), w.get(name(tied, TensorRole.EMBED, -1)));
        double[][] a = logits(write(dir(), tied, w), 0, 19, 7);
        double[][] b = logits(write(dir(), untied, withHead), 0, 19, 7);
        assertThat(Arrays.deepEquals(a, b)).isTrue();
    }

    /** Qwen3 normalises each q/k head (head_dim 6 ≠ d/h here): the norm weights matter, q's scale does not. */
    @Test
    void qwen3QkNorm() {
        ModelConfig c = config("qwen3", 20, 8, 12, 2, 1, 6).rmsNormEps(1e-12).build();
        Map<String, float[]> w = random(c, 6);
        Map<String, float[]> ones = new HashMap<>(w);
        ones.put(name(c, TensorRole.ATTN_Q_NORM, 0), TinyModels.filled(6, 1));
        ones.put(name(c, TensorRole.ATTN_K_NORM, 0), TinyModels.filled(6, 1));
        Map<String, float[]> scaled = new HashMap<>(w);
        scaled.put(name(c, TensorRole.ATTN_Q, 0), TinyModels.times(w.get(name(c, TensorRole.ATTN_Q, 0)), 4));
        scaled.put(name(c, TensorRole.ATTN_K, 0), TinyModels.times(w.get(name(c, TensorRole.ATTN_K, 0)), 0.25f));
        int[] tokens = {1, 2, 3, 4};
        double[][] a = logits(write(dir(), c, w), tokens);
        double[][] b = logits(write(dir(), c, ones), tokens);
        double[][] s = logits(write(dir(), c, scaled), tokens);
        assertThat(RelativeError.of(b, a)).isGreaterThan(1e-6);
        assertThat(RelativeError.of(s, a)).isLessThan(1e-9);
    }

    @Test
    void deterministic() {
        ModelConfig c = config("llama", 16, 16, 24, 4, 2, 4).numHiddenLayers(2).build();
        Path d = write(dir(), c, random(c, 7));
        try (ReferenceModel m = ReferenceModel.open(d)) {
            ReferenceModel.Trace a = m.trace(new int[] {5, 3, 1});
            ReferenceModel.Trace b = m.trace(new int[] {5, 3, 1});
            assertThat(Arrays.deepEquals(a.logits(), b.logits())).isTrue();
            assertThat(a.hidden()).hasSize(2);
            for (int l = 0; l < 2; l++) {
                assertThat(Arrays.deepEquals(a.hidden().get(l), b.hidden().get(l))).isTrue();
            }
            assertThat(a.experts()).isEmpty();
        }
    }

    @Test
    void relErrorIsMaxAbsDiffOverMaxAbsReference() {
        double[][] a = {{1, 2}, {3, 5}};
        double[][] b = {{1, 2}, {3, -4}};
        assertThat(RelativeError.of(a, b)).isEqualTo(9.0 / 4);
        assertThat(RelativeError.of(b, b)).isZero();
    }
}
