package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.data.RealTokenizers;
import dev.upcycle.data.TextCodec;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.IntStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * eval, train and sample with the real Llama 3 and Qwen3 tokenizers (scripts/fetch-tokenizers) on
 * random models with the real vocabulary sizes (Llama 3: 128,256; Qwen3: 151,936, larger than its
 * tokenizer's 151,669 ids) and otherwise tiny; and the refusal, before anything runs, of a
 * tokenizer whose ids a model's vocabulary does not cover.
 */
class RealTokenizerCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String VALID = "test-fixtures/corpus/valid.txt";
    private static final String PROMPT = "It is a truth universally acknowledged";

    @TempDir
    Path tmp;

    /** The real model's vocabulary: Qwen3 pads its embedding beyond the tokenizer's ids. */
    private static int modelVocab(RealTokenizers real) {
        return real == RealTokenizers.LLAMA3 ? 128_256 : 151_936;
    }

    private Path synth(RealTokenizers real, int vocab) {
        Path out = tmp.resolve(real + "-" + vocab);
        Cli r = Cli.run("synth", "--family", real == RealTokenizers.LLAMA3 ? "llama" : "qwen3", "-o", out.toString(),
                "--layers", "1", "--hidden", "32", "--heads", "2", "--kv-heads", "1", "--intermediate", "64",
                "--vocab", Integer.toString(vocab), "--dtype", "bf16", "--seed", "3", "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    @ParameterizedTest
    @EnumSource(RealTokenizers.class)
    void evalTrainAndSampleRunWithTheRealTokenizer(RealTokenizers real) throws IOException {
        Path tokenizer = real.tokenizerJson();
        Path model = synth(real, modelVocab(real));
        double uniform = Math.log(modelVocab(real));

        Cli eval = Cli.run("eval", model.toString(), "--data", VALID, "--tokenizer", tokenizer.toString(),
                "--max-tokens", "256", "--seq-len", "64", "--json");
        assertThat(eval.code()).as(eval.err()).isZero();
        JsonNode e = JSON.readTree(eval.out());
        assertThat(e.get("tokens").asInt()).isEqualTo(256);
        assertThat(e.get("tokenization").asText()).isEqualTo("tokenizer " + tokenizer);
        assertThat(e.get("loss").asDouble()).isBetween(uniform - 1, uniform + 2);  // a random model

        Path run = tmp.resolve(real + "-trained");
        Cli train = Cli.run("train", model.toString(), "--data", VALID, "--tokenizer", tokenizer.toString(),
                "-o", run.toString(), "--steps", "2", "--batch", "2", "--seq-len", "32", "--save-every", "0", "--json");
        assertThat(train.code()).as(train.err()).isZero();
        JsonNode t = JSON.readTree(train.out());
        assertThat(t.get("tokenization").asText()).isEqualTo("tokenizer " + tokenizer);
        assertThat(t.get("final_loss").asDouble()).isBetween(uniform - 1, uniform + 2);
        assertThat(run.resolve("upcycle.json")).isRegularFile();

        // sample finds the model's own tokenizer.json.
        Files.copy(tokenizer, model.resolve("tokenizer.json"));
        Cli sample = Cli.run("sample", model.toString(), "--prompt", PROMPT, "--tokens", "4", "--ignore-eos", "--json");
        assertThat(sample.code()).as(sample.err()).isZero();
        JsonNode s = JSON.readTree(sample.out());
        int[] ids = IntStream.range(0, 4).map(i -> s.get("ids").get(i).asInt()).toArray();
        try (TextCodec codec = TextCodec.tokenizer(tokenizer, modelVocab(real))) {
            assertThat(s.get("prompt_tokens").asInt()).isEqualTo(codec.encode(PROMPT).length);
            assertThat(s.get("text").asText()).isEqualTo(codec.decode(ids));
        }
        assertThat(IntStream.of(ids).min().orElseThrow()).isNotNegative();
        assertThat(IntStream.of(ids).max().orElseThrow()).isLessThan(modelVocab(real));
    }

    @ParameterizedTest
    @EnumSource(RealTokenizers.class)
    void aTokenizerLargerThanTheVocabularyIsRefusedBeforeAnythingRuns(RealTokenizers real) throws IOException {
        Path tokenizer = real.tokenizerJson();
        Path model = synth(real, 1000);
        String sizes = "the tokenizer has " + real.ids() + " token ids";
        Cli eval = Cli.run("eval", model.toString(), "--data", VALID, "--tokenizer", tokenizer.toString());
        Path out = tmp.resolve("never");
        Cli train = Cli.run("train", model.toString(), "--data", VALID, "--tokenizer", tokenizer.toString(),
                "-o", out.toString(), "--steps", "1");
        Cli sample = Cli.run("sample", model.toString(), "--prompt", PROMPT, "--tokenizer", tokenizer.toString());
        Files.copy(tokenizer, model.resolve("tokenizer.json"));
        Cli own = Cli.run("eval", model.toString(), "--data", VALID);
        for (Cli r : new Cli[] {eval, train, sample, own}) {
            assertThat(r.code()).as(r.err()).isEqualTo(3);
            assertThat(r.errorLine()).startsWith("upcycle: ImpossibleCombination : ")
                    .contains(sizes).contains("vocab_size is 1000");
        }
        assertThat(out).doesNotExist();
    }
}
