package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code upcycle eval} on the shipped tiny model and corpus. */
class EvalCommandTest {
    static final String MODEL = "test-fixtures/tiny-llama";
    static final String VALID = "test-fixtures/corpus/valid.txt";

    @TempDir
    Path tmp;

    private static JsonNode json(Cli r) throws IOException {
        return new ObjectMapper().readTree(r.out());
    }

    @Test
    void preTrainedByteModelBeatsUniformGuessing() throws IOException {
        Cli r = Cli.run("eval", MODEL, "--data", VALID, "--bytes", "--max-tokens", "4096", "--seq-len", "128", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = json(r);
        assertThat(o.get("tokens").asLong()).isEqualTo(4096);
        assertThat(o.get("windows").asInt()).isEqualTo(32);
        assertThat(o.get("tokenization").asText()).isEqualTo("bytes");
        double loss = o.get("loss").asDouble();
        System.out.println("tiny-llama loss on valid.txt: " + loss);
        // The fixture is pre-trained on the corpus (test-fixtures/README.md: 2.11 nats on all of
        // valid.txt at --seq-len 256); uniform guessing would be ln 256 = 5.55.
        assertThat(loss).isBetween(1.3, 2.6);
        assertThat(o.get("perplexity").asDouble()).isCloseTo(Math.exp(loss), org.assertj.core.data.Percentage.withPercentage(1e-9));
    }

    @Test
    void maxLossGatesTheExitCode() {
        Cli pass = Cli.run("eval", MODEL, "--data", VALID, "--max-tokens", "600", "--max-loss", "50");
        assertThat(pass.code()).as(pass.err()).isZero();
        assertThat(pass.out()).contains("is within --max-loss 50").contains("nats/token at seq-len 256");
        Cli fail = Cli.run("eval", MODEL, "--data", VALID, "--max-tokens", "600", "--max-loss", "1");
        assertThat(fail.code()).isEqualTo(1);
        assertThat(fail.out()).contains("loss", "at seq-len 256 is above --max-loss 1");
    }

    @Test
    void binFilesGiveTheSameLossAsTheirText() throws IOException {
        byte[] text = Files.readAllBytes(Path.of(VALID));
        int n = 777;
        ByteBuffer u16 = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer u32 = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            u16.putShort((short) (text[i] & 0xFF));
            u32.putInt(text[i] & 0xFF);
        }
        Path a = Files.write(tmp.resolve("valid.bin"), u16.array());
        Path b = Files.write(tmp.resolve("valid.u32.bin"), u32.array());
        Path c = Files.write(tmp.resolve("ids.bin"), u32.array());
        Path t = Files.write(tmp.resolve("valid.txt"), java.util.Arrays.copyOf(text, n));
        double expected = json(Cli.run("eval", MODEL, "--data", t.toString(), "--bytes", "--seq-len", "100", "--json"))
                .get("loss").asDouble();
        JsonNode r16 = json(Cli.run("eval", MODEL, "--data", a.toString(), "--seq-len", "100", "--json"));
        assertThat(r16.get("tokenization").asText()).isEqualTo("bin-u16");
        assertThat(r16.get("loss").asDouble()).isEqualTo(expected);
        JsonNode r32 = json(Cli.run("eval", MODEL, "--data", b.toString(), "--seq-len", "100", "--json"));
        assertThat(r32.get("tokenization").asText()).isEqualTo("bin-u32");
        assertThat(r32.get("loss").asDouble()).isEqualTo(expected);
        JsonNode forced = json(Cli.run("eval", MODEL, "--data", c.toString(), "--bin-dtype", "u32", "--seq-len", "100",
                "--json"));
        assertThat(forced.get("loss").asDouble()).isEqualTo(expected);
    }

    @Test
    void idsOutsideTheVocabularyAreBadInput() throws IOException {
        ByteBuffer u16 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        u16.putShort((short) 3).putShort((short) 300).putShort((short) 4).putShort((short) 5);
        Path a = Files.write(tmp.resolve("bad.bin"), u16.array());
        Cli r = Cli.run("eval", MODEL, "--data", a.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).contains("token id 300");
    }

    @Test
    void oddSizedBinIsRejected() throws IOException {
        Path a = Files.write(tmp.resolve("odd.bin"), new byte[] {1, 2, 3});
        Cli r = Cli.run("eval", MODEL, "--data", a.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: InvalidData : ").contains("not a whole number of u16 ids");
    }

    @Test
    void huggingFaceTokenizer() throws IOException {
        Path tok = Files.writeString(tmp.resolve("tokenizer.json"), dev.upcycle.data.TokenDataTestAccess.json());
        Path text = Files.writeString(tmp.resolve("t.txt"), "the cat sat on the mat. the mat sat on the cat.\n");
        Cli r = Cli.run("eval", MODEL, "--data", text.toString(), "--tokenizer", tok.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = json(r);
        assertThat(o.get("tokens").asLong()).isEqualTo(13);
        assertThat(o.get("tokenization").asText()).startsWith("tokenizer ");
    }

    @Test
    void maxTokensOutOfRangeIsAUsageError() {
        // 2147483647 + 1 once overflowed into a negative read length (exit 70).
        for (String n : new String[] {"2147483647", "1073741825", "0"}) {
            Cli r = Cli.run("eval", MODEL, "--data", VALID, "--max-tokens", n);
            assertThat(r.code()).as(n).isEqualTo(2);
            assertThat(r.errorLine()).contains("--max-tokens", n + " is not between 1 and 1073741824");
        }
    }

    @Test
    void seqLenAboveTheModelsContextIsAUsageError() {
        for (String n : new String[] {"4097", "2147483647"}) {
            Cli r = Cli.run("eval", MODEL, "--data", VALID, "--max-tokens", "100", "--seq-len", n);
            assertThat(r.code()).as(n).isEqualTo(2);
            assertThat(r.errorLine()).contains("--seq-len", n + " is above the model's max_position_embeddings of 4096");
            assertThat(r.err()).contains("use --seq-len 4096 or less");
        }
    }

    @Test
    void seqLenWhoseAttentionScoresCannotFitIsAUsageError() throws IOException {
        // A context of 2^31 - 1 positions: one window's scores would need exabytes.
        Path dir = tmp.resolve("long-context");
        dev.upcycle.testing.TinyModels.write(dir, dev.upcycle.testing.TinyModels.small("llama")
                .maxPositionEmbeddings(Integer.MAX_VALUE).build(), dev.upcycle.io.DType.F32);
        Path text = Files.writeString(tmp.resolve("t.txt"), "some text");
        Cli r = Cli.run("eval", dir.toString(), "--data", text.toString(), "--bytes", "--seq-len", "2000000000");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).contains("--seq-len", "GiB for the attention scores of one window");
    }

    @Test
    void jsonPerplexityIsANumberWithTheSeqLen() throws IOException {
        JsonNode o = json(Cli.run("eval", MODEL, "--data", VALID, "--max-tokens", "300", "--seq-len", "64", "--json"));
        assertThat(o.get("perplexity").isNumber()).isTrue();
        assertThat(o.get("seq_len").asInt()).isEqualTo(64);
    }
}
