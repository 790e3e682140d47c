package dev.upcycle.upcycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.upcycle.Fidelity.Verdict;
import dev.upcycle.upcycle.Fixtures.Config;
import dev.upcycle.upcycle.MoeReference.Precision;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The verdicts of upcycling.md 6.2 for the cases a spec can express (cases 14 to 17, 20 and 21
 * concern biases, fused tensors or deliberate mistakes that are not options), and a sweep that
 * checks every verdict against the reference forward.
 */
class FidelityAnalysisTest {

    private static UpcycleSpec.Builder spec(int e, int g, int k) {
        return UpcycleSpec.builder().expansion(e).granularity(g).topK(k);
    }

    private static Fidelity assess(UpcycleSpec.Builder b, Activation act) {
        return FidelityAnalysis.assess(b.build(), act, true);
    }

    @Test
    void case1_copyExpertsTopkSoftmaxAnyRouterIsExact() {
        for (Activation act : Activation.values()) {
            for (RouterInit init : RouterInit.values()) {
                Fidelity f = assess(spec(8, 1, 2).routing(Routing.TOPK_SOFTMAX).routerInit(init).routerStd(1), act);
                assertThat(f.verdict()).as("%s %s", act, init).isEqualTo(Verdict.EXACT);
                assertThat(f.expectedRelativeError()).hasValue(0.0);
            }
        }
    }

    @Test
    void cases2to4_virtualGroupTopkSoftmaxExactModesAndHomogeneousPaperAreExact() {
        for (ScalingMode mode : List.of(ScalingMode.EXACT_DOWN, ScalingMode.EXACT_BALANCED)) {
            for (Activation act : Activation.values()) {
                assertThat(assess(spec(8, 8, 8).routing(Routing.TOPK_SOFTMAX).scaling(mode), act).verdict())
                        .isEqualTo(Verdict.EXACT);
            }
        }
        for (Activation act : List.of(Activation.SQUARED_RELU, Activation.RELU)) {
            Fidelity f = assess(spec(8, 8, 8).routing(Routing.TOPK_SOFTMAX).scaling(ScalingMode.PAPER), act);
            assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
            assertThat(f.reasons().get(0)).contains("positively homogeneous");
        }
    }

    @Test
    void cases5to7_paperScalingOnNonHomogeneousActivationsIsApproximate() {
        UpcycleSpec.Builder b = spec(8, 8, 8).routing(Routing.TOPK_SOFTMAX).scaling(ScalingMode.PAPER);
        Fidelity swiglu = assess(b, Activation.SILU_GLU);
        assertThat(swiglu.verdict()).isEqualTo(Verdict.APPROXIMATE);
        assertThat(swiglu.expectedRelativeError()).hasValue(1.2e-1);
        assertThat(swiglu.reasons()).singleElement().asString()
                .contains("s^(1/3) = 2 inside SiLU, which is not homogeneous").contains("exact-balanced");
        assertThat(assess(b, Activation.GELU_GLU).expectedRelativeError()).hasValue(7.4e-2);
        Fidelity gelu = assess(b, Activation.GELU);
        assertThat(gelu.verdict()).isEqualTo(Verdict.APPROXIMATE);
        assertThat(gelu.reasons().get(0)).contains("s^(1/2)").contains("GELU");
        // s = 1 (E8G1T2 topk-softmax): the paper factors are all 1, so nothing changes.
        assertThat(assess(spec(8, 1, 2).routing(Routing.TOPK_SOFTMAX), Activation.SILU_GLU).verdict())
                .isEqualTo(Verdict.EXACT);
    }

    @Test
    void case8_topKNotMultipleOfGranularityIsNotPreserving() {
        for (RouterInit init : List.of(RouterInit.VIRTUAL_GROUP, RouterInit.ZERO)) {
            for (Routing routing : Routing.values()) {
                Fidelity f = assess(spec(4, 4, 2).routing(routing).routerInit(init).scaling(ScalingMode.EXACT_DOWN),
                        Activation.SILU_GLU);
                assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
                assertThat(f.reasons()).anyMatch(r -> r.contains("K=2 is not a multiple of granularity G=4"));
            }
        }
    }

    @Test
    void case9_randomRouterWithGranularityIsNotPreserving() {
        Fidelity f = assess(spec(4, 2, 2).routing(Routing.TOPK_SOFTMAX).routerInit(RouterInit.RANDOM)
                .scaling(ScalingMode.EXACT_DOWN), Activation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(f.expectedRelativeError()).hasValue(1.2);
        assertThat(f.reasons().get(0)).contains("independent logits");
    }

    @Test
    void case10_softmaxTopkZeroRouterIsExactWithATieBreakWarning() {
        Fidelity f = assess(spec(8, 8, 8).routing(Routing.SOFTMAX_TOPK).routerInit(RouterInit.ZERO)
                .scaling(ScalingMode.EXACT_BALANCED), Activation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.warnings()).anyMatch(w -> w.contains("tie-breaking"));
    }

    @Test
    void cases11and13_softmaxTopkNonZeroRouterIsApproximateWithSigmaDependentError() {
        for (int g : new int[] {1, 8}) {
            Fidelity f = assess(spec(8, g, 2 * g).routing(Routing.SOFTMAX_TOPK).scaling(ScalingMode.EXACT_DOWN),
                    Activation.SILU_GLU);
            assertThat(f.verdict()).isEqualTo(Verdict.APPROXIMATE);
            assertThat(f.expectedRelativeError()).isEmpty();
            assertThat(f.reasons()).singleElement().asString().contains("N*S(x)/K >= 1").contains("sigma=0.0200")
                    .contains("--router-init zero");
        }
    }

    @Test
    void softmaxTopkSelectingEveryExpertIsExactForAnyRouter() {
        // Not in section 6.1: with K = N, S(x) = 1 = K/N whatever the logits.
        Fidelity f = assess(spec(2, 4, 8).routing(Routing.SOFTMAX_TOPK).routerStd(1).scaling(ScalingMode.EXACT_DOWN),
                Activation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.reasons().get(0)).contains("selects every expert");
    }

    @Test
    void cases18and19_sharedExpertSplitIsExactUnderTheRoutedConditions() {
        UpcycleSpec.Builder topk = spec(4, 2, 2).routing(Routing.TOPK_SOFTMAX).scaling(ScalingMode.EXACT_BALANCED)
                .sharedExpert(SharedExpertMode.SPLIT, 8);
        UpcycleSpec.Builder pre = spec(4, 2, 2).routing(Routing.SOFTMAX_TOPK).routerInit(RouterInit.ZERO)
                .scaling(ScalingMode.EXACT_DOWN).sharedExpert(SharedExpertMode.SPLIT, 8);
        assertThat(assess(topk, Activation.SILU_GLU).verdict()).isEqualTo(Verdict.EXACT);
        assertThat(assess(pre, Activation.SILU_GLU).reasons().get(0)).contains("doubled");
    }

    @Test
    void fullCopyIsExactWhateverTheRoutingButWarns() {
        Fidelity f = assess(spec(4, 4, 2).routing(Routing.SOFTMAX_TOPK).routerInit(RouterInit.RANDOM)
                .sharedExpert(SharedExpertMode.FULL_COPY, 0), Activation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.warnings()).anyMatch(w -> w.contains("no gradient"));
    }

    @Test
    void noScalingIsWrongUnlessSIsOne() {
        Fidelity f = assess(spec(8, 1, 2).routing(Routing.SOFTMAX_TOPK).routerInit(RouterInit.ZERO)
                .scaling(ScalingMode.NONE), Activation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(f.expectedRelativeError()).hasValue(0.75);
        assertThat(f.reasons().get(0)).contains("1/s").contains("s=4");
        assertThat(assess(spec(8, 1, 2).routing(Routing.TOPK_SOFTMAX).scaling(ScalingMode.NONE), Activation.SILU_GLU)
                .verdict()).isEqualTo(Verdict.EXACT);
    }

    @Test
    void topOneWithTopkSoftmaxIsExactButWarnsAboutTheRouterGradient() {
        Fidelity f = assess(spec(8, 1, 1).routing(Routing.TOPK_SOFTMAX), Activation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.warnings()).singleElement().asString().contains("no gradient");
        assertThat(f.reasons()).noneMatch(r -> r.contains("gradient"));
    }

    @Test
    void aTargetThatCannotExpressTheRoutingIsNotPreserving() {
        Fidelity f = FidelityAnalysis.assess(spec(8, 1, 2).routerInit(RouterInit.ZERO).scaling(ScalingMode.EXACT_DOWN)
                .build(), Activation.SILU_GLU, false);
        assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(f.reasons().get(0)).contains("softmax-topk").contains("norm_topk_prob");
    }

    @Test
    void requireExactRefusesWithTheReasons() {
        UpcycleSpec paper = spec(8, 8, 8).routing(Routing.TOPK_SOFTMAX).build();
        assertThatThrownBy(() -> FidelityAnalysis.requireExact(paper, Activation.SILU_GLU, true))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.why()).contains("E8G8T8").contains("approximate").contains("SiLU");
                });
        UpcycleSpec exact = paper.toBuilder().scaling(ScalingMode.EXACT_BALANCED).build();
        assertThat(FidelityAnalysis.requireExact(exact, Activation.SILU_GLU, true).isExact()).isTrue();
    }

    static Stream<Arguments> sweep() {
        return Fixtures.configs(c -> c.seed() == 0);
    }

    /** Every verdict agrees with the reference forward: exact within 1e-5, not preserving beyond 1e-2. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("sweep")
    void verdictsAgreeWithTheReferenceForward(Config c) {
        double[][] xs = Fixtures.tokens(c);
        for (Activation act : List.of(Activation.SILU_GLU, Activation.SQUARED_RELU)) {
            DenseFfn dense = Fixtures.dense(c, act, false);
            MoeReference ref = new MoeReference(act, Precision.F32);
            double[][] yDense = ref.dense(MoeReference.Ffn.of(dense), xs);
            for (Routing routing : Routing.values()) {
                for (RouterInit init : RouterInit.values()) {
                    // Squared ReLU differs from SwiGLU only in paper mode.
                    for (ScalingMode mode : act.isGated() ? List.of(ScalingMode.values()) : List.of(ScalingMode.PAPER)) {
                        UpcycleSpec spec = c.spec().routing(routing).routerInit(init).scaling(mode).build();
                        Fidelity f = FidelityAnalysis.assess(spec, act, true);
                        double rel = MoeReference.rel(ref.moe(TestUpcycler.build(spec, act, dense), xs), yDense);
                        String what = spec.configName() + " " + routing + " " + init + " " + mode + " " + act;
                        switch (f.verdict()) {
                            case EXACT -> assertThat(rel).as(what).isLessThanOrEqualTo(1e-5);
                            case APPROXIMATE -> assertThat(rel).as(what).isGreaterThan(1e-5);
                            case NOT_PRESERVING -> assertThat(rel).as(what).isGreaterThan(1e-2);
                        }
                    }
                }
            }
        }
    }
}
