package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.DType;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.Rope;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DJL runtime (FP32) against the double-precision reference on every family and the
 * features that set them apart; logits must agree to 1e-5 relative ({@code max|a-b|/max|b|}).
 */
class RuntimeVsReferenceTest {
    static final double TOLERANCE = 1e-5;

    @TempDir
    Path tmp;

    static ObjectNode llama3Scaling() {
        ObjectNode s = JsonNodeFactory.instance.objectNode();
        s.put("rope_type", "llama3");
        s.put("factor", 8.0);
        s.put("low_freq_factor", 1.0);
        s.put("high_freq_factor", 4.0);
        s.put("original_max_position_embeddings", 64); // wavelengths of hd=8 fall in all three bands
        return s;
    }

    static Arguments c(String name, String family, DType dtype, int length, Consumer<ModelConfig.Builder> tweak) {
        return Arguments.of(name, family, dtype, length, tweak);
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                c("llama", "llama", DType.F32, 20, b -> { }),
                c("llama attention_bias, mlp_bias", "llama", DType.F32, 12, b -> b.attentionBias(true).mlpBias(true)),
                c("llama llama3 rope scaling", "llama", DType.F32, 70, b -> b.rope(Rope.of(500000.0, llama3Scaling(), "test"))),
                c("llama linear rope scaling", "llama", DType.F32, 12, b -> b.rope(Rope.of(10000.0,
                        JsonNodeFactory.instance.objectNode().put("rope_type", "linear").put("factor", 4.0), "test"))),
                c("llama bf16", "llama", DType.BF16, 16, b -> { }),
                c("mistral sliding window 5", "mistral", DType.F32, 40, b -> b.slidingWindow(5)),
                c("qwen2 tied embeddings", "qwen2", DType.F32, 16, b -> b.tieWordEmbeddings(true)),
                c("qwen2 sliding window from layer 1", "qwen2", DType.F32, 24,
                        b -> b.slidingWindow(4).useSlidingWindow(true).maxWindowLayers(1)),
                c("qwen3 head_dim 16 != d/h", "qwen3", DType.F32, 16, b -> b.headDim(16)),
                c("mixtral", "mixtral", DType.F32, 24, b -> { }),
                c("mixtral sliding window 6", "mixtral", DType.F32, 30, b -> b.slidingWindow(6)),
                c("qwen2_moe shared expert, dense layer 0", "qwen2_moe", DType.F32, 24,
                        b -> b.mlpOnlyLayers(List.of(0))),
                c("qwen2_moe norm_topk_prob", "qwen2_moe", DType.F32, 16, b -> b.normTopkProb(true)),
                c("qwen3_moe sparse step 2", "qwen3_moe", DType.F32, 24, b -> b.decoderSparseStep(2).normTopkProb(true)),
                c("qwen3_moe bf16", "qwen3_moe", DType.BF16, 16, b -> { }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void logitsAgree(String name, String family, DType dtype, int length, Consumer<ModelConfig.Builder> tweak) {
        Path dir = TinyModels.random(tmp.resolve("m"), family, dtype, tweak);
        int[] tokens = Sequences.random(length, 97, length);
        double[][] expected;
        try (ReferenceModel ref = ReferenceModel.open(dir)) {
            expected = ref.logits(tokens);
        }
        float[][] resident;
        try (CausalLm lm = CausalLm.load(dir)) {
            resident = lm.logits(tokens);
        }
        double err = RelativeError.of(resident, expected);
        System.out.printf("DJL vs reference, %-40s %.2e%n", name, err);
        assertThat(err).as(name).isLessThan(TOLERANCE);
        try (LayerStream s = LayerStream.open(dir, TinyModels.FAMILIES, List.of(tokens))) {
            while (s.hasNext()) {
                s.step();
            }
            assertThat(RelativeError.of(Sequences.rows(s.logits().get(0), 97), expected)).isLessThan(TOLERANCE);
        }
    }
}
