package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.moe.Fixtures.Config;
import dev.upcycle.testing.MoeReference.Precision;
import dev.upcycle.testing.MoeReference;
import dev.upcycle.testing.RelativeError;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariants 21 and 22 of docs/design.md, "Invariants of the method": the Qwen2-MoE shared expert
 * (docs/method.md, "Shared experts").
 */
class SharedExpertInvariantsTest {
    private static final double EXACT = 1e-5;

    static Stream<Arguments> wholeGroupConfigs() {
        return Fixtures.configs(c -> c.k() % c.g() == 0);
    }

    /**
     * Both routing modes under their exactness conditions (docs/method.md, "Conditions, and why").
     * softmax-topk needs the zero router, which is exact only where the tie order cannot matter (G = 1
     * or K = N).
     */
    private static List<UpcycleSpec.Builder> exactSetups(Config c) {
        UpcycleSpec.Builder topk = c.spec().routing(RoutingMode.TOPK_SOFTMAX).scaling(ScalingMode.EXACT_BALANCED);
        if (c.g() > 1 && c.k() < c.n()) {
            return List.of(topk);
        }
        return List.of(topk,
                c.spec().routing(RoutingMode.SOFTMAX_TOPK).scaling(ScalingMode.EXACT_DOWN).routerInit(RouterInit.ZERO));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wholeGroupConfigs")
    void inv21_sharedExpertSplitWithDoubledDownIsExact(Config c) {
        double[][] xs = Fixtures.tokens(c);
        // Biases (docs/method.md, "Biases") on seed 0 only, to keep the suite fast.
        for (boolean biases : c.seed() == 0 ? new boolean[] {false, true} : new boolean[] {false}) {
            DenseFfn dense = Fixtures.dense(c, FfnActivation.SILU_GLU, biases);
            int f = dense.intermediate();
            for (UpcycleSpec.Builder b : exactSetups(c)) {
                for (int fs : new int[] {f / 4, f / 2}) {
                    UpcycleSpec spec = b.sharedExpert(SharedExpertMode.SPLIT, fs).build();
                    ExpertLayout layout = ExpertLayout.of(spec, f);
                    assertThat(layout.expertIntermediate()).isEqualTo((f - fs) / c.g());
                    assertThat(layout.neurons(0).start()).isEqualTo(fs);
                    for (Precision p : Fixtures.precisions(c)) {
                        assertThat(TestUpcycler.rel(spec, FfnActivation.SILU_GLU, dense, xs, p))
                                .as("%s F_s=%d biases=%s %s", spec.routing(), fs, biases, p).isLessThanOrEqualTo(EXACT);
                        assertThat(TestUpcycler.relCuttingTies(spec, FfnActivation.SILU_GLU, dense, xs, p))
                                .as("%s F_s=%d biases=%s %s, group-cutting ties", spec.routing(), fs, biases, p)
                                .isLessThanOrEqualTo(EXACT);
                    }
                }
                if (c.seed() != 0) {
                    continue;
                }
                UpcycleSpec full = b.sharedExpert(SharedExpertMode.FULL_COPY, 0).build();
                assertThat(TestUpcycler.rel(full, FfnActivation.SILU_GLU, dense, xs, Precision.F32))
                        .as("full copy %s biases=%s", full.routing(), biases).isLessThanOrEqualTo(EXACT);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wholeGroupConfigs")
    void inv22_sharedExpertWithoutTheDoublingIsWrong(Config c) {
        double[][] xs = Fixtures.tokens(c);
        DenseFfn dense = Fixtures.dense(c, FfnActivation.SILU_GLU, false);
        MoeReference ref = new MoeReference(FfnActivation.SILU_GLU, Precision.F64);
        double[][] yDense = ref.dense(TestUpcycler.ffn(dense), xs);
        for (UpcycleSpec.Builder b : exactSetups(c)) {
            for (int fs : new int[] {dense.intermediate() / 4, dense.intermediate() / 2}) {
                UpcycleSpec spec = b.sharedExpert(SharedExpertMode.SPLIT, fs).build();
                ScaleFactors f = Scaling.factors(spec, FfnActivation.SILU_GLU);
                ScaleFactors undoubled = new ScaleFactors(f.s(), f.cGate(), f.cUp(), f.cDown(), f.downBias(), 1.0, false);
                double rel = RelativeError.of(ref.moe(TestUpcycler.build(spec, dense, undoubled), xs), yDense);
                assertThat(rel).as("%s F_s=%d without x2", spec.routing(), fs).isGreaterThan(1e-2);
            }
        }
    }
}
