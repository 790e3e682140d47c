package dev.upcycle.data;

import dev.upcycle.data.TextCodec;
import dev.upcycle.data.TokenData;
import dev.upcycle.data.TokenizerVocabulary;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.IntStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The real Llama 3 and Qwen3 tokenizers (scripts/fetch-tokenizers) as eval, train and sample use
 * them: the shipped corpus (valid.txt, and train.txt's one non-ASCII line) survives encode then
 * decode unchanged, through the codec of sample and through the piecewise encoding of eval and train; no special token is added; the
 * id range the vocabulary check reads is the tokenizer's own.
 */
class RealTokenizerRoundTripTest {
    @TempDir
    Path tmp;

    private static final Path CORPUS = Path.of("test-fixtures/corpus");

    @ParameterizedTest
    @EnumSource(RealTokenizers.class)
    void theValidationTextRoundTripsThroughTheCodec(RealTokenizers real) throws IOException {
        Path json = real.tokenizerJson();
        String text = Files.readString(CORPUS.resolve("valid.txt"), StandardCharsets.UTF_8);
        long t0 = System.nanoTime();
        try (TextCodec codec = TextCodec.tokenizer(json, real.ids())) {
            long t1 = System.nanoTime();
            int[] ids = codec.encode(text);
            long t2 = System.nanoTime();
            assertThat(IntStream.of(ids).min().orElseThrow()).isNotNegative();
            assertThat(IntStream.of(ids).max().orElseThrow()).isLessThan(real.ids());
            assertThat(ids.length).isBetween(text.length() / 8, text.length() / 2); // words, not bytes
            assertThat(codec.decode(ids)).isEqualTo(text);
            System.out.printf(Locale.ROOT, "%s: tokenizer loaded (vocabulary check included) in %.2f s; valid.txt, "
                    + "%d chars -> %d tokens in %.2f s%n", real, (t1 - t0) / 1e9, text.length(), ids.length,
                    (t2 - t1) / 1e9);
        }
    }

    @ParameterizedTest
    @EnumSource(RealTokenizers.class)
    void evalAndTrainEncodingInPiecesDecodesToTheFile(RealTokenizers real) throws IOException {
        // valid.txt (three pieces of encoding) and train.txt's one non-ASCII line (a pound sign).
        String pound = Files.readAllLines(CORPUS.resolve("train.txt"), StandardCharsets.UTF_8).stream()
                .filter(l -> l.contains("\u00a3")).findFirst().orElseThrow();
        String text = Files.readString(CORPUS.resolve("valid.txt"), StandardCharsets.UTF_8) + "\n" + pound + "\n";
        Path file = Files.writeString(tmp.resolve("corpus.txt"), text);
        assertThat(text.length()).isGreaterThan(2 * TokenData.PIECE_CHARS);
        int[] ids = TokenData.tokenizer(file, real.tokenizerJson(), real.ids(), Integer.MAX_VALUE);
        try (TextCodec codec = TextCodec.tokenizer(real.tokenizerJson(), real.ids())) {
            assertThat(codec.decode(ids)).isEqualTo(text);
        }
    }

    @ParameterizedTest
    @EnumSource(RealTokenizers.class)
    void noSpecialTokensAreAddedAndSpecialTokenTextRoundTrips(RealTokenizers real) {
        String special = real == RealTokenizers.LLAMA3 ? "<|end_of_text|>" : "<|endoftext|>";
        int specialId = real == RealTokenizers.LLAMA3 ? 128_001 : 151_643;
        try (TextCodec codec = TextCodec.tokenizer(real.tokenizerJson(), real.ids())) {
            int[] plain = codec.encode("It is a truth universally acknowledged");
            assertThat(plain).hasSizeBetween(5, 8);
            assertThat(IntStream.of(plain).max().orElseThrow()).isLessThan(specialId);
            String text = "Emma." + special + "Persuasion";
            int[] ids = codec.encode(text);
            assertThat(ids).contains(specialId);
            assertThat(codec.decode(ids)).isEqualTo(text);
        }
    }

    @ParameterizedTest
    @EnumSource(RealTokenizers.class)
    void theVocabularyCheckReadsTheTokenizersIdRange(RealTokenizers real) {
        assertThat(TokenizerVocabulary.size(real.tokenizerJson())).isEqualTo(real.ids());
    }
}
