package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.moe.Fixtures.Config;
import dev.upcycle.testing.MoeReference.Precision;
import dev.upcycle.testing.MoeReference;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Invariants 5 to 7 of docs/design.md, "Invariants of the method": the router. */
class RouterInvariantsTest {

    static Stream<Arguments> shapes() {
        return Fixtures.configs(c -> c.k() == 1);
    }

    static Stream<Arguments> wholeGroupConfigs() {
        return Fixtures.configs(c -> c.k() % c.g() == 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv05_virtualGroupRowsAndLogitsAreBitIdentical(Config c) {
        for (double std : new double[] {0.02, 1}) {
            UpcycleSpec spec = c.spec().routerStd(std).build();
            float[] r = RouterInitializer.routerWeights(spec, 0, Fixtures.D, Fixtures.ROUTER);
            MoeReference ref = new MoeReference(FfnActivation.SILU_GLU, Precision.F32);
            double[][] xs = Fixtures.tokens(c);
            for (int n = 0; n < spec.experts(); n++) {
                int first = (n / c.g()) * c.g();
                assertThat(Arrays.copyOfRange(r, n * Fixtures.D, (n + 1) * Fixtures.D))
                        .isEqualTo(Arrays.copyOfRange(r, first * Fixtures.D, (first + 1) * Fixtures.D));
            }
            for (double[] x : xs) {
                double[] l = ref.logits(r, spec.experts(), x);
                for (int n = 0; n < spec.experts(); n++) {
                    assertThat(Double.doubleToRawLongBits(l[n]))
                            .isEqualTo(Double.doubleToRawLongBits(l[(n / c.g()) * c.g()]));
                }
            }
            // Different groups get different rows (E independent draws).
            if (spec.expansion() > 1) {
                assertThat(Arrays.copyOfRange(r, 0, Fixtures.D))
                        .isNotEqualTo(Arrays.copyOfRange(r, c.g() * Fixtures.D, (c.g() + 1) * Fixtures.D));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv06_sameSeedSameBytesDifferentSeedDifferentRouter(Config c) {
        for (RouterInit init : new RouterInit[] {RouterInit.VIRTUAL_GROUP, RouterInit.RANDOM}) {
            UpcycleSpec spec = c.spec().routerInit(init).build();
            float[] a = RouterInitializer.routerWeights(spec, 0, Fixtures.D, Fixtures.ROUTER);
            float[] b = RouterInitializer.routerWeights(spec, 0, Fixtures.D, Fixtures.ROUTER);
            float[] other = RouterInitializer.routerWeights(spec.toBuilder().seed(c.seed() + 17).build(), 0,
                    Fixtures.D, Fixtures.ROUTER);
            float[] otherLayer = RouterInitializer.routerWeights(spec, 1, Fixtures.D, "model.layers.1.mlp.gate.weight");
            assertThat(bits(a)).isEqualTo(bits(b));
            assertThat(bits(a)).isNotEqualTo(bits(other));
            assertThat(bits(a)).isNotEqualTo(bits(otherLayer));
        }
    }

    @Test
    void inv06_virtualGroupWithGranularityOneIsRandomAndZeroIsZero() {
        UpcycleSpec vg = UpcycleSpec.builder().experts(8).topK(2).seed(5).build();
        UpcycleSpec random = vg.toBuilder().routerInit(RouterInit.RANDOM).build();
        assertThat(RouterInitializer.routerWeights(vg, 0, 16, Fixtures.ROUTER))
                .isEqualTo(RouterInitializer.routerWeights(random, 0, 16, Fixtures.ROUTER));
        float[] zero = RouterInitializer.routerWeights(vg.toBuilder().routerInit(RouterInit.ZERO).build(), 0, 16,
                Fixtures.ROUTER);
        assertThat(bits(zero)).containsOnly(0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wholeGroupConfigs")
    void inv07_topKSetsAreWholeVirtualGroups(Config c) {
        for (double std : new double[] {0.02, 1}) {
            UpcycleSpec spec = c.spec().routerStd(std).build();
            float[] r = RouterInitializer.routerWeights(spec, 0, Fixtures.D, Fixtures.ROUTER);
            MoeReference ref = new MoeReference(FfnActivation.SILU_GLU, Precision.F32);
            for (double[] x : Fixtures.tokens(c)) {
                int[] sel = MoeReference.topK(ref.logits(r, spec.experts(), x), spec.topK());
                int[] perGroup = new int[spec.expansion()];
                int[] perShard = new int[c.g()];
                for (int n : sel) {
                    perGroup[n / c.g()]++;
                    perShard[n % c.g()]++;
                }
                assertThat(Arrays.stream(perGroup).filter(v -> v != 0)).as("groups hit").allMatch(v -> v == c.g());
                assertThat(Arrays.stream(perGroup).filter(v -> v != 0).count()).isEqualTo(c.k() / c.g());
                assertThat(perShard).containsOnly(c.k() / c.g());
            }
        }
    }

    private static int[] bits(float[] a) {
        int[] out = new int[a.length];
        Arrays.setAll(out, i -> Float.floatToRawIntBits(a[i]));
        return out;
    }
}
