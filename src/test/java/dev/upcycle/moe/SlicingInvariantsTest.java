package dev.upcycle.moe;

import static dev.upcycle.testing.BitEquality.assertBitEqual;
import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.moe.Fixtures.Config;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Invariants 1 to 4 of docs/design.md, "Invariants of the method": what each expert's tensors hold. */
class SlicingInvariantsTest {

    /** One (E, G) pair per seed: slicing does not depend on K. */
    static Stream<Arguments> shapes() {
        return Fixtures.configs(c -> c.k() == 1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv01_expertTensorsAreScaledShardsOfTheDenseTensors(Config c) {
        for (FfnActivation act : FfnActivation.values()) {
            DenseFfn dense = Fixtures.dense(c, act, true);
            int d = dense.hidden();
            int f = dense.intermediate();
            Check check = new Check();
            for (ScalingMode mode : ScalingMode.values()) {
                UpcycleSpec spec = c.spec().routing(RoutingMode.SOFTMAX_TOPK).scaling(mode).build();
                ExpertLayout layout = ExpertLayout.of(spec, f);
                ScaleFactors k = Scaling.factors(spec, act);
                for (int n = 0; n < spec.experts(); n++) {
                    ExpertTensors e = ExpertSlicer.expert(dense, layout, k, n);
                    int j = n % c.g();
                    int fe = f / c.g();
                    assertThat(layout.neurons(n)).isEqualTo(new IndexRange(j * fe, (j + 1) * fe));
                    for (int i = 0; i < fe; i++) {
                        int row = j * fe + i;
                        for (int col = 0; col < d; col++) {
                            if (act.isGated()) {
                                check.add(e.gate()[i * d + col], dense.gate()[row * d + col], k.cGate());
                            }
                            check.add(e.up()[i * d + col], dense.up()[row * d + col], k.cUp());
                            // down [d, F]: column `row` of the dense matrix is column i of the expert's.
                            check.add(e.down()[col * fe + i], dense.down()[col * f + row], k.cDown());
                        }
                        if (act.isGated()) {
                            check.add(e.gateBias()[i], dense.gateBias()[row], k.cGate());
                        }
                        check.add(e.upBias()[i], dense.upBias()[row], k.cUp());
                    }
                    for (int r = 0; r < d; r++) {
                        check.add(e.downBias()[r], dense.downBias()[r], k.downBias());
                    }
                }
            }
            assertThat(check.bitMismatches).as("%s: c=1 copies that are not bit-exact", act).isZero();
            assertThat(check.worstRel).as("%s: worst relative error of scaled values", act).isLessThanOrEqualTo(1e-6);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv02_unscaledGroupConcatenationIsTheDenseFfn(Config c) {
        DenseFfn dense = Fixtures.dense(c, FfnActivation.SILU_GLU, false);
        int d = dense.hidden();
        int f = dense.intermediate();
        UpcycleSpec spec = c.spec().scaling(ScalingMode.NONE).build();
        ExpertLayout layout = ExpertLayout.of(spec, f);
        ScaleFactors k = Scaling.factors(spec, FfnActivation.SILU_GLU);
        int fe = layout.expertIntermediate();
        for (int v = 0; v < spec.expansion(); v++) {
            float[] gate = new float[f * d];
            float[] up = new float[f * d];
            float[] down = new float[d * f];
            for (int j = 0; j < c.g(); j++) {
                ExpertTensors e = ExpertSlicer.expert(dense, layout, k, v * c.g() + j);
                System.arraycopy(e.gate(), 0, gate, j * fe * d, fe * d);
                System.arraycopy(e.up(), 0, up, j * fe * d, fe * d);
                for (int r = 0; r < d; r++) {
                    System.arraycopy(e.down(), r * fe, down, r * f + j * fe, fe);
                }
            }
            assertBitEqual(gate, dense.gate(), "gate");
            assertBitEqual(up, dense.up(), "up");
            assertBitEqual(down, dense.down(), "down");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv03_expertNEqualsExpertNModG(Config c) {
        DenseFfn dense = Fixtures.dense(c, FfnActivation.SILU_GLU, true);
        UpcycleSpec spec = c.spec().build();
        ExpertLayout layout = ExpertLayout.of(spec, dense.intermediate());
        ScaleFactors k = Scaling.factors(spec, FfnActivation.SILU_GLU);
        for (int n = 0; n < spec.experts(); n++) {
            ExpertTensors a = ExpertSlicer.expert(dense, layout, k, n);
            ExpertTensors b = ExpertSlicer.expert(dense, layout, k, n % c.g());
            assertBitEqual(a.gate(), b.gate(), "gate");
            assertBitEqual(a.up(), b.up(), "up");
            assertBitEqual(a.down(), b.down(), "down");
            assertBitEqual(a.gateBias(), b.gateBias(), "gateBias");
            assertBitEqual(a.upBias(), b.upBias(), "upBias");
            assertBitEqual(a.downBias(), b.downBias(), "downBias");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv04_routedParametersAreETimesDenseAndRouterIsNByD(Config c) {
        for (FfnActivation act : new FfnActivation[] {FfnActivation.SILU_GLU, FfnActivation.RELU}) {
            DenseFfn dense = Fixtures.dense(c, act, false);
            UpcycleSpec spec = c.spec().build();
            ExpertLayout layout = ExpertLayout.of(spec, dense.intermediate());
            ScaleFactors k = Scaling.factors(spec, act);
            long total = 0;
            for (int n = 0; n < spec.experts(); n++) {
                total += ExpertSlicer.expert(dense, layout, k, n).parameters();
            }
            long denseParams = (act.isGated() ? 3L : 2L) * dense.hidden() * dense.intermediate();
            assertThat(total).isEqualTo(c.e() * denseParams);
            assertThat(layout.routedExpertParameters(dense.hidden(), act.isGated())).isEqualTo(total);
            float[] router = RouterInitializer.routerWeights(spec, 0, dense.hidden(), Fixtures.ROUTER);
            assertThat(router).hasSize(spec.experts() * dense.hidden());
        }
    }

    /**
     * Invariant 1's tolerance, accumulated so the test asserts once: bit-exact for c = 1,
     * rel <= 1e-6 against the float64 product otherwise.
     */
    private static final class Check {
        double worstRel;
        int bitMismatches;

        void add(float actual, float dense, double c) {
            if (c == 1.0) {
                if (Float.floatToRawIntBits(actual) != Float.floatToRawIntBits(dense)) {
                    bitMismatches++;
                }
            } else {
                double expected = dense * c;
                double err = Math.abs(actual - expected);
                worstRel = Math.max(worstRel, expected == 0 ? err : err / Math.abs(expected));
            }
        }
    }
}
