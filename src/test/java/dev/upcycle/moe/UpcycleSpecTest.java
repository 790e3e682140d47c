package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/** The hard constraints (docs/method.md, "Notation") that need no model. */
class UpcycleSpecTest {

    @Test
    void defaultsAreTheCliDefaults() {
        UpcycleSpec s = UpcycleSpec.of(8, 2, 1);
        assertThat(s.routing()).isEqualTo(RoutingMode.SOFTMAX_TOPK);
        assertThat(s.scaling()).isEqualTo(ScalingMode.PAPER);
        assertThat(s.routerInit()).isEqualTo(RouterInit.VIRTUAL_GROUP);
        assertThat(s.routerStd()).isEqualTo(0.02);
        assertThat(s.seed()).isZero();
        assertThat(s.hasSharedExpert()).isFalse();
        assertThat(s.expansion()).isEqualTo(8);
        assertThat(s.configName()).isEqualTo("E8G1T2");
    }

    @Test
    void expansionGivesExpertsTimesGranularity() {
        UpcycleSpec s = UpcycleSpec.builder().expansion(8).granularity(8).topK(8).build();
        assertThat(s.experts()).isEqualTo(64);
        assertThat(s.expansion()).isEqualTo(8);
        assertThat(s.selectsWholeGroups()).isTrue();
        assertThat(s.toBuilder().build()).isEqualTo(s);
    }

    @Test
    void hardConstraintsAreErrors() {
        rejects(() -> UpcycleSpec.of(8, 2, 3), ErrorKind.ImpossibleCombination, "not a multiple of granularity G=3");
        rejects(() -> UpcycleSpec.of(8, 0, 1), ErrorKind.ImpossibleCombination, "K=0");
        rejects(() -> UpcycleSpec.of(8, 9, 1), ErrorKind.ImpossibleCombination, "1..8");
        rejects(() -> UpcycleSpec.of(8, 2, 0), ErrorKind.InvalidOption, "G=0");
        rejects(() -> UpcycleSpec.of(0, 1, 1), ErrorKind.InvalidOption, "N=0");
        rejects(() -> UpcycleSpec.builder().experts(8).expansion(3).granularity(2).topK(2).build(),
                ErrorKind.ImpossibleCombination, "3 x 2");
        rejects(() -> UpcycleSpec.builder().topK(1).build(), ErrorKind.InvalidOption, "required");
    }

    @Test
    void optionValuesAreChecked() {
        rejects(() -> UpcycleSpec.builder().experts(4).routerStd(-1).build(), ErrorKind.InvalidOption, "-1");
        rejects(() -> UpcycleSpec.builder().experts(4).routerStd(Double.NaN).build(), ErrorKind.InvalidOption, "NaN");
        rejects(() -> UpcycleSpec.builder().experts(4).routerStd(0).build(), ErrorKind.InvalidOption, "zero");
        rejects(() -> UpcycleSpec.builder().experts(4).sharedExperts(2).build(), ErrorKind.InvalidOption, "0 or 1");
        rejects(() -> UpcycleSpec.builder().experts(4).sharedExpertSize(8).build(),
                ErrorKind.ImpossibleCombination, "without --shared-experts 1");
        rejects(() -> UpcycleSpec.builder().experts(4).sharedExpert(SharedExpertMode.SPLIT, 0).build(),
                ErrorKind.InvalidOption, "F_s >= 1");
        assertThat(UpcycleSpec.builder().experts(4).routerInit(RouterInit.ZERO).routerStd(0).build().routerStd()).isZero();
    }

    static void rejects(ThrowingCallable call, ErrorKind kind, String fragment) {
        assertThatThrownBy(call).isInstanceOfSatisfying(UpcycleException.class, e -> {
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.why()).contains(fragment);
        });
    }
}
