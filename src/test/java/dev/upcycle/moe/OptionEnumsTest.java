package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** CLI spellings of the option enums (the convert options in README.md) and hidden_act mapping. */
class OptionEnumsTest {

    @Test
    void everyConstantParsesFromItsCliName() {
        for (RoutingMode v : RoutingMode.values()) {
            assertThat(RoutingMode.parse(v.cliName())).isEqualTo(v);
        }
        for (ScalingMode v : ScalingMode.values()) {
            assertThat(ScalingMode.parse(v.cliName())).isEqualTo(v);
        }
        for (RouterInit v : RouterInit.values()) {
            assertThat(RouterInit.parse(v.cliName())).isEqualTo(v);
        }
        for (SharedExpertMode v : SharedExpertMode.values()) {
            assertThat(SharedExpertMode.parse(v.cliName())).isEqualTo(v);
        }
        for (FfnActivation v : FfnActivation.values()) {
            assertThat(FfnActivation.parse(v.cliName())).isEqualTo(v);
        }
    }

    @Test
    void cliNamesAreTheDocumentedOnes() {
        assertThat(RoutingMode.SOFTMAX_TOPK.cliName()).isEqualTo("softmax-topk");
        assertThat(RoutingMode.TOPK_SOFTMAX.cliName()).isEqualTo("topk-softmax");
        assertThat(ScalingMode.EXACT_BALANCED.cliName()).isEqualTo("exact-balanced");
        assertThat(ScalingMode.EXACT_DOWN.cliName()).isEqualTo("exact-down");
        assertThat(RouterInit.VIRTUAL_GROUP.cliName()).isEqualTo("virtual-group");
        assertThat(SharedExpertMode.FULL_COPY.cliName()).isEqualTo("full-copy");
        assertThat(RoutingMode.parse(" Softmax-TopK ")).isEqualTo(RoutingMode.SOFTMAX_TOPK);
    }

    @Test
    void unknownValuesListTheAllowedOnes() {
        assertThatThrownBy(() -> ScalingMode.parse("exact"))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidOption);
                    assertThat(e.where()).isEqualTo("--scaling");
                    assertThat(e.why()).contains("\"exact\"").contains("paper, exact-balanced, exact-down, none");
                });
        assertThatThrownBy(() -> RoutingMode.parse("topk"))
                .hasMessageContaining("softmax-topk, topk-softmax");
        assertThatThrownBy(() -> RouterInit.parse(null)).hasMessageContaining("virtual-group, random, zero");
        assertThatThrownBy(() -> SharedExpertMode.parse("copy")).hasMessageContaining("split, full-copy");
    }

    @ParameterizedTest
    @CsvSource({
        "silu, true, SILU_GLU",
        "swish, true, SILU_GLU",
        "gelu, true, GELU_GLU",
        "gelu_pytorch_tanh, true, GELU_GLU",
        "gelu_new, false, GELU",
        "relu2, false, SQUARED_RELU",
        "relu, false, RELU",
    })
    void hiddenActMapsToActivation(String hiddenAct, boolean gated, FfnActivation expected) {
        FfnActivation a = FfnActivation.fromHiddenAct(hiddenAct, gated);
        assertThat(a).isEqualTo(expected);
        assertThat(a.isGated()).isEqualTo(gated);
    }

    @Test
    void unsupportedHiddenActIsNamed() {
        assertThatThrownBy(() -> FfnActivation.fromHiddenAct("tanh", true))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.UnsupportedArchitecture))
                .hasMessageContaining("\"tanh\"");
        assertThatThrownBy(() -> FfnActivation.fromHiddenAct("silu", false)).hasMessageContaining("plain");
    }

    @Test
    void homogeneityDecidesPaperExactness() {
        assertThat(FfnActivation.SQUARED_RELU.isPositivelyHomogeneous()).isTrue();
        assertThat(FfnActivation.RELU.isPositivelyHomogeneous()).isTrue();
        assertThat(FfnActivation.SILU_GLU.isPositivelyHomogeneous()).isFalse();
        assertThat(RoutingMode.TOPK_SOFTMAX.normTopkProb()).isTrue();
        assertThat(RoutingMode.SOFTMAX_TOPK.normTopkProb()).isFalse();
    }
}
