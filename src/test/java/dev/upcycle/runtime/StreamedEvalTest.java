package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.DType;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The layer-streamed, block-wise loss equals the loss of the whole model held in memory, with
 * limits small enough that every path runs: several micro-batches per pass, several passes,
 * vocabulary blocks that do not divide the vocabulary, and a final partial window.
 */
class StreamedEvalTest {
    /** Two 16-token windows per micro-batch, two micro-batches per pass, head blocks of 10 of 97 rows. */
    static final StreamedEval.Limits TINY = new StreamedEval.Limits(32, 1L << 20, 2L * 32 * 32 * 4, 10);

    @TempDir
    Path tmp;

    static Stream<Arguments> models() {
        Consumer<ModelConfig.Builder> untied = b -> b.tieWordEmbeddings(false);
        Consumer<ModelConfig.Builder> tied = b -> b.tieWordEmbeddings(true);
        return Stream.of(
                Arguments.of("llama", untied, DType.F32),
                Arguments.of("llama", tied, DType.BF16),
                Arguments.of("qwen3", tied, DType.F32),
                Arguments.of("qwen2", (Consumer<ModelConfig.Builder>) b -> b.tieWordEmbeddings(false).slidingWindow(5)
                        .useSlidingWindow(true).maxWindowLayers(1), DType.F32),
                Arguments.of("mistral", (Consumer<ModelConfig.Builder>) b -> b.slidingWindow(6), DType.F32),
                Arguments.of("mixtral", untied, DType.F32),
                Arguments.of("qwen2_moe", (Consumer<ModelConfig.Builder>) b -> b.mlpOnlyLayers(List.of(0)), DType.F32),
                Arguments.of("qwen3_moe", tied, DType.BF16));
    }

    @ParameterizedTest(name = "{0} {2}")
    @MethodSource("models")
    void streamedLossEqualsInMemoryLoss(String family, Consumer<ModelConfig.Builder> tweak, DType dtype) {
        Path dir = TinyModels.random(tmp.resolve(family), family, dtype, tweak);
        int seqLen = 16;
        int[] tokens = Sequences.random(5 * seqLen + 7 + 1, 97, family.hashCode());   // 5 full windows and 7 tokens
        Evaluator.Result expected;
        try (CausalLm lm = CausalLm.load(dir)) {
            expected = Evaluator.evaluate(lm, tokens, seqLen);
        }
        try (StreamedEval s = StreamedEval.open(dir, TinyModels.FAMILIES, TINY)) {
            assertThat(StreamedEval.plan(tokens.length - 1, seqLen, 4, 32, TINY)).hasSizeGreaterThan(1);
            Evaluator.Result r = s.evaluate(tokens, seqLen);
            assertThat(r.tokens()).isEqualTo(expected.tokens()).isEqualTo(87);
            assertThat(r.windows()).isEqualTo(expected.windows()).isEqualTo(6);
            assertThat(r.seqLen()).isEqualTo(16);
            assertThat(Math.abs(r.loss() - expected.loss()) / expected.loss()).as("%s vs %s", r.loss(), expected.loss())
                    .isLessThan(1e-5);
        }
    }

    @Test
    void oneMicroBatchWithExpertsReadOneAtATime() {
        // Six full windows of 40 make one micro-batch under the default limits: the experts of each
        // layer are then read as they receive tokens instead of all at once.
        Path dir = TinyModels.random(tmp.resolve("m"), "mixtral", DType.F32, b -> { });
        int[] tokens = Sequences.random(6 * 40 + 1, 97, 11);
        assertThat(StreamedEval.plan(240, 40, 4, 32, StreamedEval.Limits.DEFAULT)).containsExactly(
                List.of(new StreamedEval.Batch(0, 6, 40)));
        double expected;
        try (CausalLm lm = CausalLm.load(dir)) {
            expected = Evaluator.evaluate(lm, tokens, 40).loss();
        }
        try (StreamedEval s = StreamedEval.open(dir, TinyModels.FAMILIES)) {
            assertThat(Math.abs(s.evaluate(tokens, 40).loss() - expected) / expected).isLessThan(1e-5);
        }
    }

    @Test
    void planKeepsAttentionScoresAndPassesBounded() {
        // Qwen3-0.6B's shape: 16 heads of 512² scores are 16 MiB a window, so 4 windows fit 64 MiB.
        List<List<StreamedEval.Batch>> passes = StreamedEval.plan(2048, 512, 16, 1024, StreamedEval.Limits.DEFAULT);
        assertThat(passes).hasSize(1);
        assertThat(passes.get(0)).containsExactly(new StreamedEval.Batch(0, 4, 512));
        // Long windows go one at a time; the hidden states of a pass stay within 256 MiB.
        passes = StreamedEval.plan(200_000, 4096, 32, 2048, StreamedEval.Limits.DEFAULT);
        for (List<StreamedEval.Batch> pass : passes) {
            assertThat(pass).allSatisfy(b -> assertThat(b.windows()).isEqualTo(1));
            assertThat(pass.stream().mapToLong(b -> 4L * b.tokens() * 2048).sum()).isLessThanOrEqualTo(256L << 20);
        }
        assertThat(passes.stream().flatMap(List::stream).mapToLong(StreamedEval.Batch::tokens).sum()).isEqualTo(200_000);
        assertThat(passes.get(passes.size() - 1).get(passes.get(passes.size() - 1).size() - 1))
                .isEqualTo(new StreamedEval.Batch(48 * 4096, 1, 200_000 - 48 * 4096));
    }
}
