package dev.upcycle.reference;

import static dev.upcycle.testing.TinyModels.config;
import static dev.upcycle.testing.TinyModels.random;
import static dev.upcycle.testing.TinyModels.times;
import static dev.upcycle.testing.TinyModels.write;
import static dev.upcycle.testing.TinyModels.zeros;
import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import dev.upcycle.testing.MoeReference;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pins the MoE semantics of {@link ReferenceModel}: function-preserving copies (docs/formats.md,
 * "Choosing a target"), shared experts (docs/method.md, "Shared experts"), renormalisation and top-k
 * tie-breaking (docs/method.md, "Routing modes").
 * The MoE checkpoints are built here directly, independent of the converter.
 */
class ReferenceMoeTest {

    private static final int[] TOKENS = {3, 1, 4, 1, 5, 9, 2, 6};

    @TempDir
    Path tmp;

    private int dirs;

    private Path dir() {
        return tmp.resolve("m" + dirs++);
    }

    /**
     * The MoE tensors: {@code special} decides a tensor (null = not special); routed expert
     * tensors default to the dense MLP of that layer, everything else to the dense tensor of
     * the same role (attention, norms, embeddings, head, and the MLP of dense layers).
     */
    private static Map<String, float[]> upcycle(ModelConfig dense, Map<String, float[]> dv, ModelConfig moe,
                                                Function<ExpectedTensor, float[]> special) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (ExpectedTensor e : moe.expectedTensors()) {
            float[] v = special.apply(e);
            if (v == null) {
                TensorRole role = switch (e.role()) {
                    case EXPERT_GATE -> TensorRole.MLP_GATE;
                    case EXPERT_UP -> TensorRole.MLP_UP;
                    case EXPERT_DOWN -> TensorRole.MLP_DOWN;
                    default -> e.role();
                };
                v = dv.get(dense.family().tensorName(role, e.layer(), -1));
            }
            if (v == null) {
                throw new IllegalStateException("no value for " + e.name());
            }
            out.put(e.name(), v);
        }
        return out;
    }

    private static double[][] logits(Path dir) {
        try (ReferenceModel m = ReferenceModel.open(dir)) {
            return m.logits(TOKENS);
        }
    }

    private static ReferenceModel.Trace trace(Path dir, int... tokens) {
        try (ReferenceModel m = ReferenceModel.open(dir)) {
            return m.trace(tokens);
        }
    }

    /** Mixtral with every expert a copy of the llama MLP and a random router computes the llama function. */
    @Test
    void mixtralCopiedFromLlamaReproducesDenseLogits() {
        ModelConfig llama = config("llama", 20, 16, 24, 4, 2, 4).numHiddenLayers(2).build();
        ModelConfig mixtral = config("mixtral", 20, 16, 24, 4, 2, 4).numHiddenLayers(2).rope(llama.rope())
                .slidingWindow(null).numExperts(4).numExpertsPerTok(2).build();
        Map<String, float[]> dense = random(llama, 11);
        Map<String, float[]> moe = upcycle(llama, dense, mixtral,
                e -> e.role() == TensorRole.ROUTER ? TinyModels.random(e, 12) : null);
        double[][] expected = logits(write(dir(), llama, dense));
        ReferenceModel.Trace t = trace(write(dir(), mixtral, moe), TOKENS);
        assertThat(RelativeError.of(t.logits(), expected)).isLessThan(1e-12);
        assertThat(t.experts()).containsOnlyKeys(0, 1);
        assertThat(t.experts().get(0)).hasNumberOfRows(TOKENS.length);
        assertThat(t.experts().get(0)[0]).hasSize(2).doesNotHaveDuplicates();
    }

    /**
     * Qwen2-MoE: shared expert = the dense MLP with down x2 and a zero gate (sigmoid(0) = 1/2),
     * routed experts with zero down projections, random router. With decoder_sparse_step 2 and
     * three layers only layer 1 is sparse; layers 0 and 2 keep the dense MLP.
     */
    @Test
    void qwen2MoeSharedExpertReproducesDenseQwen2() {
        ModelConfig qwen2 = config("qwen2", 20, 16, 24, 4, 2, 4).numHiddenLayers(3).build();
        ModelConfig qwen2Moe = config("qwen2_moe", 20, 16, 24, 4, 2, 4).numHiddenLayers(3).rope(qwen2.rope())
                .numExperts(4).numExpertsPerTok(2).expertWidth(8).sharedExpertWidth(24).decoderSparseStep(2).build();
        Map<String, float[]> dense = random(qwen2, 21);
        Map<String, float[]> moe = upcycle(qwen2, dense, qwen2Moe, e -> switch (e.role()) {
            case ROUTER, EXPERT_GATE, EXPERT_UP -> TinyModels.random(e, 22);
            case EXPERT_DOWN, SHARED_EXPERT_ROUTER -> zeros((int) e.shape().elements());
            case SHARED_EXPERT_GATE_PROJ -> dense.get(qwen2.family().tensorName(TensorRole.MLP_GATE, e.layer(), -1));
            case SHARED_EXPERT_UP -> dense.get(qwen2.family().tensorName(TensorRole.MLP_UP, e.layer(), -1));
            case SHARED_EXPERT_DOWN -> times(dense.get(qwen2.family().tensorName(TensorRole.MLP_DOWN, e.layer(), -1)), 2);
            default -> null;
        });
        double[][] expected = logits(write(dir(), qwen2, dense));
        ReferenceModel.Trace t = trace(write(dir(), qwen2Moe, moe), TOKENS);
        assertThat(RelativeError.of(t.logits(), expected)).isLessThan(1e-12);
        assertThat(t.experts()).containsOnlyKeys(1);
        assertThat(t.hidden()).hasSize(3);
    }

    /**
     * Qwen3-MoE, zero router, every expert a copy: {@code norm_topk_prob} true gives weights 1/k
     * summing to 1; false gives p = 1/E each (sum k/E), which the down projection x E/k undoes.
     */
    @Test
    void qwen3MoeRenormalisesOnlyWithNormTopkProb() {
        ModelConfig qwen3 = config("qwen3", 20, 16, 24, 4, 2, 4).numHiddenLayers(2).build();
        ModelConfig normalised = config("qwen3_moe", 20, 16, 24, 4, 2, 4).numHiddenLayers(2).rope(qwen3.rope())
                .numExperts(4).numExpertsPerTok(2).expertWidth(24).normTopkProb(true).build();
        ModelConfig plain = normalised.toBuilder().normTopkProb(false).build();
        Map<String, float[]> dense = random(qwen3, 31);
        Function<ExpectedTensor, float[]> zeroRouter =
                e -> e.role() == TensorRole.ROUTER ? zeros((int) e.shape().elements()) : null;
        Map<String, float[]> copies = upcycle(qwen3, dense, normalised, zeroRouter);
        Map<String, float[]> scaledDown = upcycle(qwen3, dense, plain, e -> e.role() == TensorRole.EXPERT_DOWN
                ? times(dense.get(qwen3.family().tensorName(TensorRole.MLP_DOWN, e.layer(), -1)), 2)
                : zeroRouter.apply(e));
        double[][] expected = logits(write(dir(), qwen3, dense));
        assertThat(RelativeError.of(logits(write(dir(), normalised, copies)), expected)).isLessThan(1e-12);
        assertThat(RelativeError.of(logits(write(dir(), plain, scaledDown)), expected)).isLessThan(1e-12);
        assertThat(RelativeError.of(logits(write(dir(), plain, copies)), expected)).isGreaterThan(1e-3);
    }

    /** A zero router makes all experts tie; the reference picks the lowest indices 0..k-1. */
    @Test
    void zeroRouterTiesBreakToLowestIndices() {
        ModelConfig c = config("qwen3_moe", 20, 16, 24, 4, 2, 4).numHiddenLayers(2)
                .numExperts(5).numExpertsPerTok(3).expertWidth(8).build();
        Map<String, float[]> w = random(c, 41);
        for (ExpectedTensor e : c.expectedTensors()) {
            if (e.role() == TensorRole.ROUTER) {
                w.put(e.name(), zeros((int) e.shape().elements()));
            }
        }
        ReferenceModel.Trace t = trace(write(dir(), c, w), TOKENS);
        assertThat(t.experts()).containsOnlyKeys(0, 1);
        for (int[][] layer : t.experts().values()) {
            for (int[] token : layer) {
                assertThat(token).containsExactly(0, 1, 2);
            }
        }
    }

    @Test
    void topKOrdersByValueThenIndex() {
        assertThat(MoeReference.topK(new double[] {0.1, 0.3, 0.3, 0.2, 0.3}, 3)).containsExactly(1, 2, 4);
        assertThat(MoeReference.topK(new double[] {0.1, 0.2, 0.3, 0.4}, 2)).containsExactly(3, 2);
    }

    /**
     * Mixtral, E = 2, k = 1, zero router: every token ties and takes expert 0 alone with weight
     * 1 (renormalised p = 1/2), so zeroing expert 1 changes nothing and zeroing expert 0 does.
     */
    @Test
    void topOneMixtralUsesOnlyTheSelectedExpert() {
        ModelConfig c = config("mixtral", 20, 4, 6, 1, 1, 4).numExperts(2).numExpertsPerTok(1)
                .slidingWindow(null).build();
        Map<String, float[]> a = random(c, 51);
        a.put(c.family().tensorName(TensorRole.ROUTER, 0, -1), zeros(8));
        ReferenceModel.Trace tie = trace(write(dir(), c, a), TOKENS);
        for (int[] token : tie.experts().get(0)) {
            assertThat(token).containsExactly(0);
        }
        Map<String, float[]> noExpert1 = new LinkedHashMap<>(a);
        noExpert1.put(c.family().tensorName(TensorRole.EXPERT_DOWN, 0, 1), zeros(24));
        assertThat(RelativeError.of(trace(write(dir(), c, noExpert1), TOKENS).logits(), tie.logits()))
                .isZero();
        Map<String, float[]> noExpert0 = new LinkedHashMap<>(a);
        noExpert0.put(c.family().tensorName(TensorRole.EXPERT_DOWN, 0, 0), zeros(24));
        assertThat(RelativeError.of(trace(write(dir(), c, noExpert0), TOKENS).logits(), tie.logits()))
                .isGreaterThan(1e-6);
    }
}
