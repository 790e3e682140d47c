package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.upcycle.moe.Fixtures.Config;
import dev.upcycle.testing.MoeReference.Precision;
import dev.upcycle.testing.MoeReference;
import dev.upcycle.testing.RelativeError;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariants 18 to 20 of docs/design.md, "Invariants of the method": Mixtral weights, biases, fused
 * gate_up.
 */
class RoutingAndBiasInvariantsTest {
    private static final double EXACT = 1e-5;

    static Stream<Arguments> allConfigs() {
        return Fixtures.configs(c -> true);
    }

    static Stream<Arguments> wholeGroupConfigs() {
        return Fixtures.configs(c -> c.k() % c.g() == 0);
    }

    static Stream<Arguments> granularWholeGroupConfigs() {
        return Fixtures.configs(c -> c.g() > 1 && c.k() % c.g() == 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allConfigs")
    void inv18_mixtralRenormalisedWeightsEqualSoftmaxOverTopK(Config c) {
        for (double std : new double[] {0.02, 1}) {
            UpcycleSpec spec = c.spec().routing(RoutingMode.TOPK_SOFTMAX).routerInit(RouterInit.RANDOM).routerStd(std).build();
            float[] r = RouterInitializer.routerWeights(spec, 0, Fixtures.D, Fixtures.ROUTER);
            MoeReference.Layer layer = new MoeReference.Layer(RoutingMode.TOPK_SOFTMAX, c.k(), r, List.of(), null, null);
            for (Precision p : Fixtures.precisions(c)) {
                MoeReference ref = new MoeReference(FfnActivation.SILU_GLU, p);
                double worst = 0;
                for (double[] x : Fixtures.tokens(c)) {
                    double[] l = ref.logits(r, spec.experts(), x);
                    MoeReference.Route route = routeOver(ref, l, c.k());
                    double[][] mixtral = ref.mixtralWeights(l, c.k());
                    for (int i = 0; i < c.k(); i++) {
                        assertThat((int) mixtral[0][i]).as("selected index %d", i).isEqualTo(route.selected()[i]);
                    }
                    worst = Math.max(worst, RelativeError.of(mixtral[1], route.weights()));
                }
                assertThat(worst).as("sigma %s %s", std, p).isLessThanOrEqualTo(1e-6);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wholeGroupConfigs")
    void inv19_biasesArePreservedWithDownBiasTimesSOverG(Config c) {
        for (FfnActivation act : FfnActivation.values()) {
            DenseFfn dense = Fixtures.dense(c, act, true);
            double[][] xs = Fixtures.tokens(c);
            UpcycleSpec topk = c.spec().routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.EXACT_BALANCED).build();
            UpcycleSpec pre = c.spec().routing(RoutingMode.SOFTMAX_TOPK).scaling(ScalingMode.EXACT_BALANCED)
                    .routerInit(RouterInit.ZERO).build();
            assertThat(Scaling.factors(topk, act).downBias()).isEqualTo(1.0);
            assertThat(Scaling.factors(pre, act).downBias()).isCloseTo((double) pre.experts() / c.k(), within(1e-12));
            for (Precision p : Fixtures.precisions(c)) {
                assertThat(TestUpcycler.rel(topk, act, dense, xs, p)).as("%s topk-softmax %s", act, p)
                        .isLessThanOrEqualTo(EXACT);
                // softmax-topk's zero router is exact only where the tie order cannot matter.
                if (c.g() == 1 || c.k() == pre.experts()) {
                    assertThat(TestUpcycler.rel(pre, act, dense, xs, p)).as("%s softmax-topk %s", act, p)
                            .isLessThanOrEqualTo(EXACT);
                    assertThat(TestUpcycler.relCuttingTies(pre, act, dense, xs, p))
                            .as("%s softmax-topk %s, group-cutting ties", act, p).isLessThanOrEqualTo(EXACT);
                }
            }
            // docs/method.md, "Measured errors": Megatron copies the down bias unscaled, wrong for
            // softmax-topK when N > K.
            if (pre.experts() > c.k()) {
                ScaleFactors f = Scaling.factors(pre, act);
                ScaleFactors megatron = new ScaleFactors(f.s(), f.cGate(), f.cUp(), f.cDown(), 1.0, f.sharedDown(), false);
                MoeReference ref = new MoeReference(act, Precision.F64);
                double rel = RelativeError.of(ref.moe(TestUpcycler.build(pre, dense, megatron), xs),
                        ref.dense(TestUpcycler.ffn(dense), xs));
                assertThat(rel).as("%s unscaled down bias", act).isGreaterThan(1e-2);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("granularWholeGroupConfigs")
    void inv20_fusedGateUpMustBeUnfusedBeforeSlicing(Config c) {
        for (FfnActivation act : List.of(FfnActivation.GELU_GLU, FfnActivation.SILU_GLU)) {
            DenseFfn dense = Fixtures.dense(c, act, false);
            int d = dense.hidden();
            int f = dense.intermediate();
            float[] fused = new float[2 * f * d];
            System.arraycopy(dense.gate(), 0, fused, 0, f * d);
            System.arraycopy(dense.up(), 0, fused, f * d, f * d);
            UpcycleSpec spec = c.spec().routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.EXACT_DOWN).build();
            double[][] xs = Fixtures.tokens(c);
            MoeReference ref = new MoeReference(act, Precision.F32);
            double[][] yDense = ref.dense(TestUpcycler.ffn(dense), xs);

            FusedGateUp.GateUp halves = FusedGateUp.unfuse(fused, f, d);
            DenseFfn unfused = DenseFfn.gated(d, f, halves.gate(), halves.up(), dense.down());
            double good = RelativeError.of(ref.moe(TestUpcycler.build(spec, act, unfused), xs), yDense);
            assertThat(good).as("%s un-fused", act).isLessThanOrEqualTo(EXACT);

            // Megatron's non-SiLU GLU path: fc1 [2F, d] cut into G contiguous pieces, each read as [gate; up].
            ExpertLayout layout = ExpertLayout.of(spec, f);
            ScaleFactors k = Scaling.factors(spec, act);
            int fe = layout.expertIntermediate();
            List<MoeReference.Ffn> experts = new ArrayList<>();
            for (int n = 0; n < spec.experts(); n++) {
                int piece = layout.shard(n) * 2 * fe;
                float[] gate = ExpertSlicer.sliceRows(fused, 2 * f, d, piece, piece + fe, 1);
                float[] up = ExpertSlicer.sliceRows(fused, 2 * f, d, piece + fe, piece + 2 * fe, 1);
                IndexRange cols = layout.downColumns(n);
                float[] down = ExpertSlicer.sliceColumns(dense.down(), d, f, cols.start(), cols.end(), k.cDown());
                experts.add(new MoeReference.Ffn(d, fe, gate, up, down, null, null, null));
            }
            float[] router = RouterInitializer.routerWeights(spec, 0, d, Fixtures.ROUTER);
            MoeReference.Layer wrong = new MoeReference.Layer(spec.routing(), spec.topK(), router, experts, null, null);
            assertThat(RelativeError.of(ref.moe(wrong, xs), yDense)).as("%s contiguous split", act).isGreaterThan(1e-1);
        }
    }

    /** The topK-softmax route over given logits. */
    private static MoeReference.Route routeOver(MoeReference ref, double[] l, int k) {
        int[] sel = MoeReference.topK(l, k);
        double[] ls = new double[k];
        for (int i = 0; i < k; i++) {
            ls[i] = l[sel[i]];
        }
        return new MoeReference.Route(l, ref.softmax(l), sel, ref.softmax(ls));
    }
}
