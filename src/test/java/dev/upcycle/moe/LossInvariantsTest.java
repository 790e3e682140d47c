package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.upcycle.moe.Fixtures.Config;
import dev.upcycle.testing.MoeReference.Precision;
import dev.upcycle.testing.MoeReference;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariant 23 of docs/design.md, "Invariants of the method": the auxiliary losses (docs/method.md,
 * "Training losses") at the zero router.
 */
class LossInvariantsTest {

    static Stream<Arguments> allConfigs() {
        return Fixtures.configs(c -> true);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allConfigs")
    void inv23_auxLossIsAlphaAndZLossIsLnNSquaredAtTheZeroRouter(Config c) {
        for (RoutingMode routing : RoutingMode.values()) {
            UpcycleSpec spec = c.spec().routing(routing).routerInit(RouterInit.ZERO).build();
            float[] r = RouterInitializer.routerWeights(spec, 0, Fixtures.D, Fixtures.ROUTER);
            MoeReference.Layer layer = new MoeReference.Layer(routing, c.k(), r, List.of(), null, null);
            List<MoeReference.Route> routes = new MoeReference(FfnActivation.SILU_GLU, Precision.F64)
                    .routes(layer, Fixtures.tokens(c));
            assertThat(MoeReference.auxLossOverAlpha(routes, spec.experts(), c.k())).isCloseTo(1.0, within(1e-6));
            double lnN = Math.log(spec.experts());
            assertThat(MoeReference.zLossOverBeta(routes)).isCloseTo(lnN * lnN, within(1e-9));
        }
    }
}
