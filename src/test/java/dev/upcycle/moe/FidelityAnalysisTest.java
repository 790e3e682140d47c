package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.moe.Fidelity.Verdict;
import dev.upcycle.moe.Fixtures.Config;
import dev.upcycle.testing.MoeReference.Precision;
import dev.upcycle.testing.MoeReference;
import dev.upcycle.testing.RelativeError;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The verdicts of docs/method.md, "Measured errors", for the cases an {@code UpcycleSpec} can express
 * (the other rows concern biases, fused tensors or deliberate mistakes that are not options), and a
 * sweep that checks every verdict against the reference forward.
 */
class FidelityAnalysisTest {

    private static UpcycleSpec.Builder spec(int e, int g, int k) {
        return UpcycleSpec.builder().expansion(e).granularity(g).topK(k);
    }

    private static Fidelity assess(UpcycleSpec.Builder b, FfnActivation act) {
        return FidelityAnalysis.assess(b.build(), act, true);
    }

    @Test
    void case1_copyExpertsTopkSoftmaxAnyRouterIsExact() {
        for (FfnActivation act : FfnActivation.values()) {
            for (RouterInit init : RouterInit.values()) {
                Fidelity f = assess(spec(8, 1, 2).routing(RoutingMode.TOPK_SOFTMAX).routerInit(init).routerStd(1), act);
                assertThat(f.verdict()).as("%s %s", act, init).isEqualTo(Verdict.EXACT);
                assertThat(f.expectedRelativeError()).hasValue(0.0);
            }
        }
    }

    @Test
    void cases2to4_virtualGroupTopkSoftmaxExactModesAndHomogeneousPaperAreExact() {
        for (ScalingMode mode : List.of(ScalingMode.EXACT_DOWN, ScalingMode.EXACT_BALANCED)) {
            for (FfnActivation act : FfnActivation.values()) {
                assertThat(assess(spec(8, 8, 8).routing(RoutingMode.TOPK_SOFTMAX).scaling(mode), act).verdict())
                        .isEqualTo(Verdict.EXACT);
            }
        }
        for (FfnActivation act : List.of(FfnActivation.SQUARED_RELU, FfnActivation.RELU)) {
            Fidelity f = assess(spec(8, 8, 8).routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.PAPER), act);
            assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
            assertThat(f.reasons().get(0)).contains("positively homogeneous");
        }
    }

    @Test
    void cases5to7_paperScalingOnNonHomogeneousActivationsIsApproximate() {
        UpcycleSpec.Builder b = spec(8, 8, 8).routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.PAPER);
        Fidelity swiglu = assess(b, FfnActivation.SILU_GLU);
        assertThat(swiglu.verdict()).isEqualTo(Verdict.APPROXIMATE);
        // s = G = 8 lies beyond the measured grid (s <= 4): no figure is claimed.
        assertThat(swiglu.expectedRelativeError()).isEmpty();
        assertThat(swiglu.reasons()).singleElement().asString()
                .contains("s^(1/3) = 2 inside SiLU, which is not homogeneous").contains("exact-balanced")
                .contains("c = 2 for s=8").contains("+20% or -56%").doesNotContain("0.12");
        assertThat(swiglu.mainReason()).isEqualTo("paper scaling puts s^(1/3) = 2 inside SiLU, which is not homogeneous");
        assertThat(swiglu.exactWith()).containsExactly("--scaling exact-balanced");
        // Within the measured grid (s = G = 2) the measured worst case is quoted, and the per-neuron
        // figures follow s.
        UpcycleSpec.Builder g2 = spec(8, 2, 2).routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.PAPER);
        Fidelity small = assess(g2, FfnActivation.SILU_GLU);
        assertThat(small.expectedRelativeError()).hasValue(1.2e-1);
        assertThat(small.reasons().get(0)).contains("for s=2").contains("up to 0.120").isNotEqualTo(swiglu.reasons().get(0));
        assertThat(assess(g2, FfnActivation.GELU_GLU).expectedRelativeError()).hasValue(7.4e-2);
        Fidelity gelu = assess(b, FfnActivation.GELU);
        assertThat(gelu.verdict()).isEqualTo(Verdict.APPROXIMATE);
        assertThat(gelu.reasons().get(0)).contains("s^(1/2)").contains("GELU");
        // s = 1 (E8G1T2 topk-softmax): the paper factors are all 1, so nothing changes.
        assertThat(assess(spec(8, 1, 2).routing(RoutingMode.TOPK_SOFTMAX), FfnActivation.SILU_GLU).verdict())
                .isEqualTo(Verdict.EXACT);
    }

    @Test
    void case8_topKNotMultipleOfGranularityIsNotPreserving() {
        for (RouterInit init : List.of(RouterInit.VIRTUAL_GROUP, RouterInit.ZERO)) {
            for (RoutingMode routing : RoutingMode.values()) {
                Fidelity f = assess(spec(4, 4, 2).routing(routing).routerInit(init).scaling(ScalingMode.EXACT_DOWN),
                        FfnActivation.SILU_GLU);
                assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
                assertThat(f.reasons()).anyMatch(r -> r.contains("K=2 is not a multiple of granularity G=4"));
            }
        }
    }

    @Test
    void case9_randomRouterWithGranularityIsNotPreserving() {
        Fidelity f = assess(spec(4, 2, 2).routing(RoutingMode.TOPK_SOFTMAX).routerInit(RouterInit.RANDOM)
                .scaling(ScalingMode.EXACT_DOWN), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(f.expectedRelativeError()).hasValue(1.2);
        assertThat(f.reasons().get(0)).contains("independent logits");
    }

    @Test
    void case10_softmaxTopkZeroRouterIsExactWithCopiesAndWarnsAboutTieOrder() {
        Fidelity f = assess(spec(8, 1, 2).routing(RoutingMode.SOFTMAX_TOPK).routerInit(RouterInit.ZERO)
                .scaling(ScalingMode.EXACT_BALANCED), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.reasons().get(0)).contains("whichever K experts the top-K's tie order selects")
                .doesNotContain("lowest");
        assertThat(f.warnings()).anyMatch(w -> w.contains("tie order") && w.contains("do not fix"));
    }

    /** The verdict for each (N, G, K, routing, router) point, and why; exact never rests on tie order. */
    static Stream<Arguments> tieCases() {
        RoutingMode ts = RoutingMode.TOPK_SOFTMAX;
        RoutingMode st = RoutingMode.SOFTMAX_TOPK;
        RouterInit zero = RouterInit.ZERO;
        RouterInit vg = RouterInit.VIRTUAL_GROUP;
        return Stream.of(
                // N=6, G=2, K=2: the case; the zero router's set is picked by tie order.
                Arguments.of(6, 2, 2, ts, zero, Verdict.NOT_PRESERVING, "tie order"),
                Arguments.of(6, 2, 2, st, zero, Verdict.NOT_PRESERVING, "tie order"),
                // Distinct group rows: ties only inside a group, the boundary falls between groups.
                Arguments.of(6, 2, 2, ts, vg, Verdict.EXACT, "whatever the tie order"),
                Arguments.of(6, 2, 2, st, vg, Verdict.APPROXIMATE, "no router makes softmax-topk exact"),
                Arguments.of(6, 3, 3, ts, zero, Verdict.NOT_PRESERVING, "tie order"),
                Arguments.of(8, 4, 4, st, zero, Verdict.NOT_PRESERVING, "tie order"),
                // K = N: every expert is selected, so no tie can matter.
                Arguments.of(6, 2, 6, ts, zero, Verdict.EXACT, "every expert is selected"),
                Arguments.of(6, 2, 6, st, zero, Verdict.EXACT, "selects every expert"),
                Arguments.of(6, 2, 6, st, vg, Verdict.EXACT, "selects every expert"),
                // G = 1: the experts are identical copies, so any K of them give the same output.
                Arguments.of(6, 1, 2, ts, zero, Verdict.EXACT, "any selection among tied experts"),
                Arguments.of(6, 1, 2, st, zero, Verdict.EXACT, "whichever K experts"),
                Arguments.of(6, 1, 2, st, vg, Verdict.APPROXIMATE, "Use --router-init zero"),
                Arguments.of(6, 1, 2, ts, RouterInit.RANDOM, Verdict.EXACT, "any router"),
                // K mod G != 0 cuts a group whatever the ties; the cut is the reason given.
                Arguments.of(6, 2, 3, ts, zero, Verdict.NOT_PRESERVING, "not a multiple of granularity"));
    }

    @ParameterizedTest(name = "N={0} G={1} K={2} {3} {4} -> {5}")
    @MethodSource("tieCases")
    void verdictForEachGranularityTopKRoutingAndRouter(int n, int g, int k, RoutingMode routing, RouterInit init,
                                                       Verdict expected, String because) {
        Fidelity f = assess(UpcycleSpec.builder().experts(n).granularity(g).topK(k).routing(routing).routerInit(init)
                .scaling(ScalingMode.EXACT_DOWN), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(expected);
        assertThat(String.join(" ", f.reasons())).contains(because).doesNotContain("lowest-index");
        if (because.equals("tie order")) {
            assertThat(f.reasons()).anyMatch(r -> r.contains("PyTorch") && r.contains("transformers")
                    && r.contains("vLLM"));
            assertThat(f.expectedRelativeError()).hasValue(FidelityAnalysis.CUT_GROUP_ERROR);
        }
    }

    @Test
    void zeroRouterForAFullCopySharedExpertIsExactWhateverTheTies() {
        // The routed down projections are zero, so the selection cannot change the output.
        Fidelity f = assess(UpcycleSpec.builder().experts(6).granularity(2).topK(2).routing(RoutingMode.TOPK_SOFTMAX)
                .routerInit(RouterInit.ZERO).sharedExpert(SharedExpertMode.FULL_COPY, 0), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
    }

    @Test
    void identicalSeedMergeIsExactWithTopkSoftmaxAndScaledByTheSelectedMassOtherwise() {
        Fidelity topk = FidelityAnalysis.assessIdenticalMerge(UpcycleSpec.builder().experts(3).topK(2)
                .routing(RoutingMode.TOPK_SOFTMAX).build(), 3, true);
        assertThat(topk.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(topk.reasons()).singleElement().asString().contains("All 3 seeds have byte-identical tensors")
                .contains("weights sum to 1");
        Fidelity all = FidelityAnalysis.assessIdenticalMerge(UpcycleSpec.builder().experts(4).topK(4)
                .routing(RoutingMode.SOFTMAX_TOPK).routerInit(RouterInit.RANDOM).build(), 2, true);
        assertThat(all.verdict()).isEqualTo(Verdict.EXACT);
        Fidelity part = FidelityAnalysis.assessIdenticalMerge(UpcycleSpec.builder().experts(4).topK(2)
                .routing(RoutingMode.SOFTMAX_TOPK).routerInit(RouterInit.ZERO).build(), 2, true);
        assertThat(part.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(part.expectedRelativeError()).hasValue(0.5);
        assertThat(part.reasons().get(0)).contains("unscaled").contains("K/N = 0.500");
        assertThat(FidelityAnalysis.assessIdenticalMerge(UpcycleSpec.builder().experts(3).topK(2)
                .routing(RoutingMode.SOFTMAX_TOPK).build(), 3, false).verdict()).isEqualTo(Verdict.NOT_PRESERVING);
    }

    @Test
    void cases11and13_softmaxTopkNonZeroRouterIsApproximateWithSigmaDependentError() {
        for (int g : new int[] {1, 8}) {
            Fidelity f = assess(spec(8, g, 2 * g).routing(RoutingMode.SOFTMAX_TOPK).scaling(ScalingMode.EXACT_DOWN),
                    FfnActivation.SILU_GLU);
            assertThat(f.verdict()).isEqualTo(Verdict.APPROXIMATE);
            assertThat(f.expectedRelativeError()).isEmpty();
            // The range follows the user's N and K (N = 8g, K = 2g: N/K = 4); no fixed table is quoted.
            assertThat(f.reasons()).singleElement().asString().contains("N*S(x)/K")
                    .contains("between 1 (all logits equal) and N/K = 4 (N=" + 8 * g + ", K=" + 2 * g + ")")
                    .contains("sigma=0.0200").doesNotContain("E8G8T8")
                    .contains(g == 1 ? "Use --router-init zero" : "--routing topk-softmax with the virtual-group");
            assertThat(f.exactWith()).containsExactly("--routing topk-softmax");
        }
    }

    @Test
    void softmaxTopkSelectingEveryExpertIsExactForAnyRouter() {
        // The exception in docs/method.md, "Conditions, and why": with K = N, S(x) = 1 = K/N whatever the logits.
        Fidelity f = assess(spec(2, 4, 8).routing(RoutingMode.SOFTMAX_TOPK).routerStd(1).scaling(ScalingMode.EXACT_DOWN),
                FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.reasons().get(0)).contains("selects every expert");
    }

    @Test
    void cases18and19_sharedExpertSplitIsExactUnderTheRoutedConditions() {
        UpcycleSpec.Builder topk = spec(4, 2, 2).routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.EXACT_BALANCED)
                .sharedExpert(SharedExpertMode.SPLIT, 8);
        // softmax-topk with G > 1 is exact only when K = N (a zero router with K < N leaves the set to tie order).
        UpcycleSpec.Builder pre = spec(4, 2, 8).routing(RoutingMode.SOFTMAX_TOPK).routerInit(RouterInit.ZERO)
                .scaling(ScalingMode.EXACT_DOWN).sharedExpert(SharedExpertMode.SPLIT, 8);
        assertThat(assess(topk, FfnActivation.SILU_GLU).verdict()).isEqualTo(Verdict.EXACT);
        assertThat(assess(pre, FfnActivation.SILU_GLU).verdict()).isEqualTo(Verdict.EXACT);
        assertThat(assess(pre, FfnActivation.SILU_GLU).reasons().get(0)).contains("doubled");
    }

    @Test
    void fullCopyIsExactWhateverTheRoutingButWarns() {
        Fidelity f = assess(spec(4, 4, 2).routing(RoutingMode.SOFTMAX_TOPK).routerInit(RouterInit.RANDOM)
                .sharedExpert(SharedExpertMode.FULL_COPY, 0), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.warnings()).anyMatch(w -> w.contains("no gradient"));
    }

    @Test
    void noScalingIsWrongUnlessSIsOne() {
        Fidelity f = assess(spec(8, 1, 2).routing(RoutingMode.SOFTMAX_TOPK).routerInit(RouterInit.ZERO)
                .scaling(ScalingMode.NONE), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(f.expectedRelativeError()).hasValue(0.75);
        assertThat(f.reasons().get(0)).contains("1/s").contains("s=4");
        assertThat(assess(spec(8, 1, 2).routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.NONE), FfnActivation.SILU_GLU)
                .verdict()).isEqualTo(Verdict.EXACT);
    }

    @Test
    void topOneWithTopkSoftmaxIsExactButWarnsAboutTheRouterGradient() {
        Fidelity f = assess(spec(8, 1, 1).routing(RoutingMode.TOPK_SOFTMAX), FfnActivation.SILU_GLU);
        assertThat(f.verdict()).isEqualTo(Verdict.EXACT);
        assertThat(f.warnings()).singleElement().asString().contains("no gradient");
        assertThat(f.reasons()).noneMatch(r -> r.contains("gradient"));
    }

    @Test
    void aTargetThatCannotExpressTheRoutingIsNotPreserving() {
        Fidelity f = FidelityAnalysis.assess(spec(8, 1, 2).routerInit(RouterInit.ZERO).scaling(ScalingMode.EXACT_DOWN)
                .build(), FfnActivation.SILU_GLU, false);
        assertThat(f.verdict()).isEqualTo(Verdict.NOT_PRESERVING);
        assertThat(f.reasons().get(0)).contains("softmax-topk").contains("norm_topk_prob");
    }

    @Test
    void requireExactRefusesWithTheReasons() {
        UpcycleSpec paper = spec(8, 8, 8).routing(RoutingMode.TOPK_SOFTMAX).build();
        assertThatThrownBy(() -> FidelityAnalysis.requireExact(paper, FfnActivation.SILU_GLU, true))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.why()).contains("E8G8T8").contains("approximate").contains("SiLU")
                            .contains("c = 2 for s=8");
                });
        UpcycleSpec exact = paper.toBuilder().scaling(ScalingMode.EXACT_BALANCED).build();
        assertThat(FidelityAnalysis.requireExact(exact, FfnActivation.SILU_GLU, true).isExact()).isTrue();
    }

    static Stream<Arguments> sweep() {
        return Fixtures.configs(c -> c.seed() == 0);
    }

    /**
     * Every verdict agrees with the reference forward: exact within 1e-5 under both the lowest-index
     * and a group-cutting tie order, not preserving beyond 1e-2 under at least one of them.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("sweep")
    void verdictsAgreeWithTheReferenceForward(Config c) {
        double[][] xs = Fixtures.tokens(c);
        for (FfnActivation act : List.of(FfnActivation.SILU_GLU, FfnActivation.SQUARED_RELU)) {
            DenseFfn dense = Fixtures.dense(c, act, false);
            MoeReference ref = new MoeReference(act, Precision.F32);
            double[][] yDense = ref.dense(TestUpcycler.ffn(dense), xs);
            for (RoutingMode routing : RoutingMode.values()) {
                for (RouterInit init : RouterInit.values()) {
                    // Squared ReLU differs from SwiGLU only in paper mode.
                    for (ScalingMode mode : act.isGated() ? List.of(ScalingMode.values()) : List.of(ScalingMode.PAPER)) {
                        UpcycleSpec spec = c.spec().routing(routing).routerInit(init).scaling(mode).build();
                        Fidelity f = FidelityAnalysis.assess(spec, act, true);
                        MoeReference.Layer layer = TestUpcycler.build(spec, act, dense);
                        double rel = RelativeError.of(ref.moe(layer, xs), yDense);
                        double cut = RelativeError.of(ref.withGroupCuttingTies(spec.experts(), spec.granularity())
                                .moe(layer, xs), yDense);
                        String what = spec.configName() + " " + routing + " " + init + " " + mode + " " + act;
                        switch (f.verdict()) {
                            case EXACT -> assertThat(Math.max(rel, cut)).as(what).isLessThanOrEqualTo(1e-5);
                            case APPROXIMATE -> assertThat(rel).as(what).isGreaterThan(1e-5);
                            case NOT_PRESERVING -> assertThat(Math.max(rel, cut)).as(what).isGreaterThan(1e-2);
                        }
                    }
                }
            }
        }
    }
}
