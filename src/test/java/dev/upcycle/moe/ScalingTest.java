package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.upcycle.moe.Fixtures.Config;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariants 8 and 9 of docs/design.md, "Invariants of the method", and the reference values of
 * docs/method.md, "Scaling modes".
 */
class ScalingTest {
    private static final double TIGHT = 1e-12;

    static Stream<Arguments> allConfigs() {
        return Fixtures.configs(c -> c.seed() == 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allConfigs")
    void inv08_outputScaleIsGOrEG2OverK(Config c) {
        UpcycleSpec topk = c.spec().routing(RoutingMode.TOPK_SOFTMAX).build();
        UpcycleSpec pre = c.spec().routing(RoutingMode.SOFTMAX_TOPK).build();
        assertThat(Scaling.outputScale(topk)).isCloseTo(c.g(), within(TIGHT));
        assertThat(Scaling.outputScale(pre)).isCloseTo((double) c.e() * c.g() * c.g() / c.k(), within(TIGHT));
    }

    @Test
    void inv08_e8g8t8SoftmaxTopkPaperFactorIsFour() {
        UpcycleSpec spec = UpcycleSpec.builder().expansion(8).granularity(8).topK(8).routing(RoutingMode.SOFTMAX_TOPK)
                .scaling(ScalingMode.PAPER).build();
        ScaleFactors f = Scaling.factors(spec, FfnActivation.SILU_GLU);
        assertThat(f.s()).isCloseTo(64, within(TIGHT));
        assertThat(f.cGate()).isCloseTo(4, within(TIGHT));
        assertThat(f.cUp()).isCloseTo(4, within(TIGHT));
        assertThat(f.cDown()).isCloseTo(4, within(TIGHT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allConfigs")
    void inv09_appliedFactorsPerMode(Config c) {
        for (RoutingMode routing : RoutingMode.values()) {
            UpcycleSpec base = c.spec().routing(routing).build();
            double s = Scaling.outputScale(base);
            for (FfnActivation act : FfnActivation.values()) {
                double third = Math.cbrt(s);
                double half = Math.sqrt(s);
                ScaleFactors paper = Scaling.factors(base.toBuilder().scaling(ScalingMode.PAPER).build(), act);
                double c1 = act == FfnActivation.GELU || act == FfnActivation.RELU ? half : third;
                assertFactors(paper, act.isGated() ? c1 : 1, c1, c1);
                assertThat(paper.product(act.isGated()) * (act == FfnActivation.SQUARED_RELU ? third : 1))
                        .as("paper %s carries s", act).isCloseTo(s, within(TIGHT * s));
                assertFactors(Scaling.factors(base.toBuilder().scaling(ScalingMode.EXACT_DOWN).build(), act), 1, 1, s);
                ScaleFactors balanced = Scaling.factors(base.toBuilder().scaling(ScalingMode.EXACT_BALANCED).build(), act);
                if (act == FfnActivation.SQUARED_RELU || act == FfnActivation.GELU) {
                    assertFactors(balanced, 1, 1, s);
                } else {
                    assertFactors(balanced, 1, half, half);
                }
                assertFactors(Scaling.factors(base.toBuilder().scaling(ScalingMode.NONE).build(), act), 1, 1, 1);
                // docs/method.md, "Biases": the routed down bias carries s/G; no shared expert, so
                // sharedDown is neutral.
                assertThat(paper.downBias()).isCloseTo(s / c.g(), within(TIGHT));
                assertThat(paper.sharedDown()).isEqualTo(1.0);
                assertThat(paper.routedDownZeroed()).isFalse();
            }
        }
    }

    /**
     * Reference values of docs/method.md, "Scaling modes": config, routing, s, per-matrix paper factor.
     */
    @ParameterizedTest(name = "E{0}G{1}T{2} {3}")
    @CsvSource({
        "8, 8, 8, softmax-topk, 64, 4",
        "8, 8, 8, topk-softmax, 8, 2",
        "8, 1, 2, softmax-topk, 4, 1.5874010519681994",
        "8, 1, 1, softmax-topk, 8, 2",
        "8, 1, 2, topk-softmax, 1, 1",
    })
    void referenceValuesOfSection5_2(int e, int g, int k, String routing, double s, double perMatrix) {
        UpcycleSpec spec = UpcycleSpec.builder().expansion(e).granularity(g).topK(k).routing(RoutingMode.parse(routing))
                .scaling(ScalingMode.PAPER).build();
        ScaleFactors f = Scaling.factors(spec, FfnActivation.SILU_GLU);
        assertThat(f.s()).isCloseTo(s, within(TIGHT));
        assertThat(f.cGate()).isCloseTo(perMatrix, within(TIGHT));
        assertThat(f.cUp()).isCloseTo(perMatrix, within(TIGHT));
        assertThat(f.cDown()).isCloseTo(perMatrix, within(TIGHT));
        assertThat(spec.configName()).isEqualTo("E" + e + "G" + g + "T" + k);
    }

    @Test
    void powerOfTwoExactDownIsExactInFloat() {
        // docs/formats.md, "Dtypes": exact-down with s a power of two is bit-exact (multiplying by 2^k
        // loses nothing).
        UpcycleSpec spec = UpcycleSpec.builder().expansion(4).granularity(4).topK(4).routing(RoutingMode.TOPK_SOFTMAX)
                .scaling(ScalingMode.EXACT_DOWN).build();
        ScaleFactors f = Scaling.factors(spec, FfnActivation.SILU_GLU);
        assertThat(f.cDown()).isEqualTo(4.0);
        float v = 0.123456789f;
        assertThat(ExpertSlicer.scaleOnce(v, f.cDown())).isEqualTo(v * 4f);
    }

    @Test
    void sharedExpertDoublesItsDownAndTakesTheDownBias() {
        UpcycleSpec split = UpcycleSpec.builder().expansion(4).granularity(2).topK(2)
                .sharedExpert(SharedExpertMode.SPLIT, 8).build();
        ScaleFactors f = Scaling.factors(split, FfnActivation.SILU_GLU);
        assertThat(f.sharedDown()).isEqualTo(2.0);
        assertThat(f.sharedGateUp()).isEqualTo(1.0);
        assertThat(f.downBias()).isZero();
        assertThat(f.routedDownZeroed()).isFalse();

        UpcycleSpec full = split.toBuilder().sharedExpert(SharedExpertMode.FULL_COPY, 0).build();
        ScaleFactors g = Scaling.factors(full, FfnActivation.SILU_GLU);
        assertThat(g.routedDownZeroed()).isTrue();
        assertThat(g.cDown()).isZero();
        assertThat(g.sharedDown()).isEqualTo(2.0);
    }

    private static void assertFactors(ScaleFactors f, double g, double u, double d) {
        assertThat(f.cGate()).isCloseTo(g, within(TIGHT));
        assertThat(f.cUp()).isCloseTo(u, within(TIGHT));
        assertThat(f.cDown()).isCloseTo(d, within(TIGHT));
    }
}
