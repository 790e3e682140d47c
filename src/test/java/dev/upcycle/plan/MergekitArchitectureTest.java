package dev.upcycle.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.UpcycleException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The output architecture chosen as mergekit-moe chooses it (its order, its conditions, Mixtral first). */
class MergekitArchitectureTest {
    private static String select(String arch, int shared, boolean sharedPrompts, boolean random, String... types) {
        return MergekitArchitecture.select(new MergekitArchitecture.Inputs(arch, shared, sharedPrompts, false, random,
                List.of(types)));
    }

    @Test
    void withoutArchitectureMixtralWinsWheneverItCanTakeTheModels() {
        assertThat(select(null, 0, false, false, "llama", "llama")).isEqualTo("mixtral");
        assertThat(select(null, 0, false, true, "mistral", "mistral", "mistral")).isEqualTo("mixtral");
        // Qwen2 sources: Mixtral and DeepSeek take only llama or mistral, Qwen MoE needs a shared expert
        assertThat(select(null, 1, true, false, "qwen2", "qwen2", "qwen2")).isEqualTo("qwen2-moe");
        assertThat(select(null, 0, false, false, "qwen3", "qwen3")).isEqualTo("qwen3-moe");
    }

    @Test
    void aNamePrefixPicksAmongTheArchitecturesItStarts() {
        // "qwen" starts both "Qwen MoE" and "Qwen3 MoE": the first that takes the models
        assertThat(select("qwen", 1, true, false, "llama", "llama", "llama")).isEqualTo("qwen2-moe");
        assertThat(select("qwen", 0, false, false, "qwen3", "qwen3")).isEqualTo("qwen3-moe");
        assertThat(select("Mixtral", 0, false, false, "llama", "llama")).isEqualTo("mixtral");
        assertThat(select("qwen3", 0, false, false, "qwen3", "qwen3")).isEqualTo("qwen3-moe");
    }

    @Test
    void refusalsNameTheArchitectureAndEachReason() {
        assertThatThrownBy(() -> select("gpt", 0, false, false, "llama", "llama"))
                .isInstanceOf(UpcycleException.class).hasMessageContaining("architecture gpt")
                .hasMessageContaining("Mixtral, DeepSeek MoE, Qwen MoE, Qwen3 MoE");
        assertThatThrownBy(() -> select("mixtral", 1, true, false, "llama", "llama"))
                .hasMessageContaining("Mixtral: no shared experts");
        assertThatThrownBy(() -> select(null, 0, false, false, "llama", "mistral"))
                .hasMessageContaining("models of one architecture (found llama, mistral)");
        // Qwen MoE's shared expert needs prompts unless the gates are random, as in mergekit
        assertThatThrownBy(() -> select("qwen", 1, false, false, "qwen2", "qwen2", "qwen2"))
                .hasMessageContaining("prompts for the shared expert's gate");
        assertThat(select("qwen", 1, false, true, "qwen2", "qwen2", "qwen2")).isEqualTo("qwen2-moe");
        // mergekit would pick DeepSeek MoE (a shared expert without prompts, llama models): not written here
        assertThatThrownBy(() -> select(null, 1, false, false, "llama", "llama", "llama"))
                .hasMessageContaining("mergekit would write DeepSeek MoE here");
    }
}
