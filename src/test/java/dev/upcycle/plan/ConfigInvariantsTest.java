package dev.upcycle.plan;

import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.Fixtures;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.moe.UpcycleSpec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.moe.Fixtures.Config;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariant 26 of docs/design.md, "Invariants of the method", on the values the config writer takes
 * from this package: {@code num_experts * moe_intermediate_size = E*F} (or {@code E*(F - F_s)}),
 * {@code num_experts_per_tok = K}, {@code norm_topk_prob} matching the routing mode.
 */
class ConfigInvariantsTest {

    static Stream<Arguments> shapes() {
        return Fixtures.configs(c -> c.seed() == 0);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("shapes")
    void inv26_configNumbersRoundTrip(Config c) {
        int f = c.width();
        for (RoutingMode routing : RoutingMode.values()) {
            UpcycleSpec spec = c.spec().routing(routing).build();
            ExpertLayout layout = ExpertLayout.of(spec, f);
            assertThat((long) layout.experts() * layout.expertIntermediate()).isEqualTo((long) c.e() * f);
            assertThat(spec.topK()).isEqualTo(c.k());
            assertThat(spec.experts()).isEqualTo(c.n());
            assertThat(routing.normTopkProb()).isEqualTo(routing == RoutingMode.TOPK_SOFTMAX);

            int fs = f / 4;
            UpcycleSpec shared = spec.toBuilder().sharedExpert(SharedExpertMode.SPLIT, fs).build();
            ExpertLayout sharedLayout = ExpertLayout.of(shared, f);
            assertThat((long) sharedLayout.experts() * sharedLayout.expertIntermediate()).isEqualTo((long) c.e() * (f - fs));
            assertThat(sharedLayout.sharedNeurons().length()).isEqualTo(fs);
        }
    }
}
