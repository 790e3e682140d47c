package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.DType;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariant 24 (docs/design.md, "Invariants of the method") and the whole-model check: for
 * every family and target pair the plan calls exact, the converted checkpoint's logits equal the dense
 * model's (reference forward in float64 over the stored weights; rel <= 1e-4, in practice ~1e-15).
 */
class StepZeroEquivalenceTest {

    record Case(String name, String family, DType dtype, UnaryOperator<ModelConfig.Builder> tweak, UpcycleSpec spec,
                String target, String layers) {
        @Override
        public String toString() {
            return name;
        }
    }

    static UpcycleSpec.Builder topkSoftmax(int n, int k, int g) {
        return UpcycleSpec.builder().experts(n).topK(k).granularity(g).routing(RoutingMode.TOPK_SOFTMAX)
                .scaling(ScalingMode.EXACT_DOWN).routerInit(RouterInit.VIRTUAL_GROUP).routerStd(1.0);
    }

    static UpcycleSpec.Builder softmaxTopkZero(int n, int k, int g, ScalingMode scaling) {
        return UpcycleSpec.builder().experts(n).topK(k).granularity(g).routing(RoutingMode.SOFTMAX_TOPK)
                .scaling(scaling).routerInit(RouterInit.ZERO).routerStd(0.02);
    }

    static Stream<Arguments> cases() {
        List<Case> c = new ArrayList<>();
        UnaryOperator<ModelConfig.Builder> plain = b -> b;
        for (String fam : List.of("llama", "mistral", "qwen2", "qwen3")) {
            List<String> targets = fam.equals("qwen3") ? List.of("qwen3-moe")
                    : fam.equals("qwen2") ? List.of("qwen2-moe") : List.of("mixtral", "qwen2-moe");
            for (String t : targets) {
                c.add(new Case(fam + "->" + t + " E4G1T2 topk-softmax random router", fam, DType.F32, plain,
                        topkSoftmax(4, 2, 1).routerInit(RouterInit.RANDOM).build(), t, "all"));
                c.add(new Case(fam + "->" + t + " E4G2T2 topk-softmax virtual-group exact-down", fam, DType.F32, plain,
                        topkSoftmax(8, 2, 2).build(), t, "all"));
                c.add(new Case(fam + "->" + t + " E2G2T4 topk-softmax exact-balanced", fam, DType.F32, plain,
                        topkSoftmax(4, 4, 2).scaling(ScalingMode.EXACT_BALANCED).build(), t, "all"));
                if (!t.equals("mixtral")) {
                    // softmax-topk with G > 1 is exact only with K = N: a zero router with K < N leaves the
                    // set to the top-K's tie order (TieOrderRuntimeTest).
                    c.add(new Case(fam + "->" + t + " E4G2T8 softmax-topk zero router", fam, DType.F32, plain,
                            softmaxTopkZero(8, 8, 2, ScalingMode.EXACT_BALANCED).build(), t, "all"));
                    c.add(new Case(fam + "->" + t + " layers every:2", fam, DType.F32,
                            b -> b.numHiddenLayers(4), topkSoftmax(4, 2, 1).build(), t, "every:2"));
                    c.add(new Case(fam + "->" + t + " layers 0,3", fam, DType.F32,
                            b -> b.numHiddenLayers(4), softmaxTopkZero(4, 2, 1, ScalingMode.EXACT_DOWN).build(), t, "0,3"));
                }
            }
        }
        for (String fam : List.of("llama", "qwen2")) {
            c.add(new Case(fam + "->qwen2-moe shared split topk-softmax", fam, DType.F32, plain,
                    topkSoftmax(4, 2, 2).sharedExpert(SharedExpertMode.SPLIT, 16).build(), "qwen2-moe", "all"));
            c.add(new Case(fam + "->qwen2-moe shared split softmax-topk zero", fam, DType.F32, plain,
                    softmaxTopkZero(8, 8, 2, ScalingMode.EXACT_DOWN).sharedExpert(SharedExpertMode.SPLIT, 32).build(),
                    "qwen2-moe", "all"));
            c.add(new Case(fam + "->qwen2-moe shared full-copy paper", fam, DType.F32, plain,
                    UpcycleSpec.builder().experts(8).topK(2).sharedExpert(SharedExpertMode.FULL_COPY, 0).build(),
                    "qwen2-moe", "all"));
        }
        // Byte-copy paths in 16-bit: s = G = 2 is a power of two, so exact-down is bit-exact in BF16/F16.
        c.add(new Case("llama bf16 ->mixtral E4G2T2", "llama", DType.BF16, plain, topkSoftmax(8, 2, 2).build(),
                "mixtral", "all"));
        c.add(new Case("qwen3 f16 ->qwen3-moe E4G2T2", "qwen3", DType.F16, plain, topkSoftmax(8, 2, 2).build(),
                "qwen3-moe", "all"));
        // Attention variants that the targets carry over.
        c.add(new Case("mistral sliding window 4 ->mixtral", "mistral", DType.F32, b -> b.slidingWindow(4),
                topkSoftmax(4, 2, 1).build(), "mixtral", "all"));
        c.add(new Case("mistral sliding window 4 ->qwen2-moe", "mistral", DType.F32, b -> b.slidingWindow(4),
                topkSoftmax(4, 2, 1).build(), "qwen2-moe", "all"));
        c.add(new Case("llama tied embeddings ->mixtral", "llama",
                DType.F32, b -> b.tieWordEmbeddings(true), topkSoftmax(4, 2, 1).build(), "mixtral", "all"));
        c.add(new Case("qwen3 attention bias ->qwen3-moe", "qwen3", DType.F32, b -> b.attentionBias(true),
                topkSoftmax(4, 2, 1).build(), "qwen3-moe", "all"));
        c.add(new Case("qwen2 ->auto topk-softmax", "qwen2", DType.F32, plain, topkSoftmax(4, 2, 1).build(), "auto", "all"));
        c.add(new Case("llama ->auto softmax-topk zero", "llama", DType.F32, plain,
                softmaxTopkZero(4, 2, 1, ScalingMode.EXACT_DOWN).build(), "auto", "all"));
        return c.stream().map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void exactPlansReproduceTheDenseLogits(Case c, @TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), c.family(), c.dtype(), c.tweak());
        UpcycleRequest request = ConvertFixtures.request(c.spec(), c.target(), c.layers());
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moe"), request,
                ConvertFixtures.settings());
        UpcyclePlan plan = r.plan();
        assertThat(plan.fidelity().isExact()).as(plan.fidelity().reasons().toString()).isTrue();
        int[] tokens = ConvertFixtures.tokens(64, 12);
        double[][] want;
        double[][] got;
        try (ReferenceModel d = ReferenceModel.open(dense); ReferenceModel m = ReferenceModel.open(r.output())) {
            assertThat(m.config().family().name()).isEqualTo(plan.targetConfig().family().name());
            want = d.logits(tokens);
            got = m.logits(tokens);
        }
        assertThat(RelativeError.of(got, want)).isLessThanOrEqualTo(1e-4);
    }

    /** Invariant 13 end to end: the default paper scaling on SwiGLU is approximate, and the plan says so. */
    @org.junit.jupiter.api.Test
    void paperScalingOnSwigluChangesTheLogits(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleSpec spec = softmaxTopkZero(8, 2, 1, ScalingMode.PAPER).build();
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moe"),
                ConvertFixtures.request(spec, "qwen2-moe"), ConvertFixtures.settings());
        assertThat(r.plan().fidelity().verdict()).isEqualTo(dev.upcycle.moe.Fidelity.Verdict.APPROXIMATE);
        int[] tokens = ConvertFixtures.tokens(64, 12);
        try (ReferenceModel d = ReferenceModel.open(dense); ReferenceModel m = ReferenceModel.open(r.output())) {
            assertThat(RelativeError.of(m.logits(tokens), d.logits(tokens))).isGreaterThan(1e-3);
        }
    }
}
