package dev.upcycle.upcycle;

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
        for (Routing v : Routing.values()) {
            assertThat(Routing.parse(v.cliName())).isEqualTo(v);
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
        for (Activation v : Activation.values()) {
            assertThat(Activation.parse(v.cliName())).isEqualTo(v);
        }
    }

    @Test
    void cliNamesAreTheDocumentedOnes() {
        assertThat(Routing.SOFTMAX_TOPK.cliName()).isEqualTo("softmax-topk");
        assertThat(Routing.TOPK_SOFTMAX.cliName()).isEqualTo("topk-softmax");
        assertThat(ScalingMode.EXACT_BALANCED.cliName()).isEqualTo("exact-balanced");
        assertThat(ScalingMode.EXACT_DOWN.cliName()).isEqualTo("exact-down");
        assertThat(RouterInit.VIRTUAL_GROUP.cliName()).isEqualTo("virtual-group");
        assertThat(SharedExpertMode.FULL_COPY.cliName()).isEqualTo("full-copy");
        assertThat(Routing.parse(" Softmax-TopK ")).isEqualTo(Routing.SOFTMAX_TOPK);
    }

    @Test
    void unknownValuesListTheAllowedOnes() {
        assertThatThrownBy(() -> ScalingMode.parse("exact"))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidOption);
                    assertThat(e.where()).isEqualTo("--scaling");
                    assertThat(e.why()).contains("\"exact\"").contains("paper, exact-balanced, exact-down, none");
                });
        assertThatThrownBy(() -> Routing.parse("topk"))
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
    void hiddenActMapsToActivation(String hiddenAct, boolean gated, Activation expected) {
        Activation a = Activation.fromHiddenAct(hiddenAct, gated);
        assertThat(a).isEqualTo(expected);
        assertThat(a.isGated()).isEqualTo(gated);
    }

    @Test
    void unsupportedHiddenActIsNamed() {
        assertThatThrownBy(() -> Activation.fromHiddenAct("tanh", true))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.UnsupportedArchitecture))
                .hasMessageContaining("\"tanh\"");
        assertThatThrownBy(() -> Activation.fromHiddenAct("silu", false)).hasMessageContaining("plain");
    }

    @Test
    void homogeneityDecidesPaperExactness() {
        assertThat(Activation.SQUARED_RELU.isPositivelyHomogeneous()).isTrue();
        assertThat(Activation.RELU.isPositivelyHomogeneous()).isTrue();
        assertThat(Activation.SILU_GLU.isPositivelyHomogeneous()).isFalse();
        assertThat(Routing.TOPK_SOFTMAX.normTopkProb()).isTrue();
        assertThat(Routing.SOFTMAX_TOPK.normTopkProb()).isFalse();
    }
}
