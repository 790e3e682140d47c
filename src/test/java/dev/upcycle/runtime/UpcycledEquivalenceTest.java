package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.DType;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The property the MoE path must keep: a model whose experts are copies of the dense MLP
 * computes the dense model's function (docs/formats.md, "Choosing a target"), here through the DJL
 * runtime.
 */
class UpcycledEquivalenceTest {
    @TempDir
    Path tmp;

    static Stream<Arguments> pairs() {
        return Stream.of(Arguments.of("llama", "mixtral", 0), Arguments.of("mistral", "mixtral", 5),
                Arguments.of("qwen2", "qwen2_moe", 0), Arguments.of("qwen3", "qwen3_moe", 0));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("pairs")
    void copiedExpertsPreserveLogits(String dense, String moe, int window) {
        Path d = TinyModels.random(tmp.resolve("dense"), dense, DType.F32, b -> {
            if (window > 0) {
                b.slidingWindow(window);
            }
        });
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), moe, 4, 2, -1);
        int[] tokens = Sequences.random(23, 97, 1);
        try (CausalLm a = CausalLm.load(d); CausalLm b = CausalLm.load(m)) {
            assertThat(RelativeError.of(b.logits(tokens), a.logits(tokens))).isLessThan(1e-5);
        }
    }

    @Test
    void perturbedExpertChangesLogits() {
        Path d = TinyModels.random(tmp.resolve("dense"), "llama", DType.F32, b -> { });
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), "mixtral", 4, 2, 1);
        int[] tokens = Sequences.random(23, 97, 2);
        try (CausalLm a = CausalLm.load(d); CausalLm b = CausalLm.load(m)) {
            assertThat(RelativeError.of(b.logits(tokens), a.logits(tokens))).isGreaterThan(1e-3);
        }
    }

    @Test
    void streamingMatchesResidentOnMoe() {
        Path m = TinyModels.random(tmp.resolve("moe"), "qwen2_moe", DType.F32, b -> b.mlpOnlyLayers(List.of(0)));
        int[] tokens = Sequences.random(9, 97, 3);
        try (CausalLm lm = CausalLm.load(m);
             LayerStream s = LayerStream.open(m, TinyModels.FAMILIES, List.of(tokens))) {
            while (s.hasNext()) {
                s.step();
            }
            float[][] streamed = Sequences.rows(s.logits().get(0), 97);
            assertThat(RelativeError.of(streamed, lm.logits(tokens))).isLessThan(1e-6);
        }
    }
}
