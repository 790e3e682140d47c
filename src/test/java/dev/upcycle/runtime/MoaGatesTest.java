package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.testing.Cli;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * T6 (docs/design.md, "Invariants of attention experts and merges"): the attention router's gate
 * weights. Soft routing gives every expert a weight above zero and the weights of a token sum to 1 (≤
 * 1e-6 in f32); with --attention-top-k K exactly K weights per token are non-zero and they still sum to
 * 1.
 */
class MoaGatesTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource({"4,4", "4,2", "8,3"})
    void gateWeightsArePositiveAndSumToOne(int experts, int topK) {
        Path out = tmp.resolve("moa-" + experts + "-" + topK);
        int code = Cli.run("convert",
                "test-fixtures/tiny-llama", "-o", out.toString(), "--attention", "moa-separate",
                "--attention-experts", String.valueOf(experts), "--attention-top-k", String.valueOf(topK),
                "--routing", "topk-softmax", "-q").code();
        assertThat(code).isZero();
        ModelConfig config = ModelConfig.read(out.resolve("config.json"), FamilyRegistry.builtIn());
        int d = config.hiddenSize();
        int tokens = 64;
        Random random = new Random(3);
        float[] router = new float[experts * d];
        float[] h = new float[tokens * d];
        for (int i = 0; i < router.length; i++) {
            router[i] = (float) random.nextGaussian(); // std 1: spread-out gates, a hard case for the sum
        }
        for (int i = 0; i < h.length; i++) {
            h[i] = (float) random.nextGaussian();
        }
        try (NDManager m = Djl.newManager()) {
            NDArray g = new MoaAttention(config, null).gates(m.create(router).reshape(experts, d),
                    m.create(h).reshape(1, tokens, d));
            float[] w = g.toFloatArray();
            assertThat(g.getShape().getShape()).containsExactly(1, tokens, experts);
            for (int t = 0; t < tokens; t++) {
                double sum = 0;
                int nonZero = 0;
                for (int e = 0; e < experts; e++) {
                    float x = w[t * experts + e];
                    assertThat(x).isGreaterThanOrEqualTo(0f);
                    sum += x;
                    nonZero += x > 0 ? 1 : 0;
                }
                assertThat(Math.abs(sum - 1)).as("token %d", t).isLessThanOrEqualTo(1e-6);
                assertThat(nonZero).as("token %d", t).isEqualTo(topK);
            }
        }
    }
}
