package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.data.TokenDataTestAccess;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code upcycle sample}: greedy decoding with the KV cache picks what the full forward would. */
class SampleCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** A random byte-level model: 2 layers, hidden 32, 4 heads / 2 kv heads of 8. */
    private Path synth(String name, String vocab) {
        Path out = tmp.resolve(name);
        Cli r = Cli.run("synth", "--family", "llama", "-o", out.toString(), "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "48", "--vocab", vocab, "--seed", "4");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    @Test
    void idsAreTheGreedyArgmaxOfTheFullForward() throws IOException {
        Path model = synth("bytes", "256");
        Cli r = Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "8", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(o.get("prompt_tokens").asInt()).isEqualTo(5);
        assertThat(o.get("new_tokens").asInt()).isEqualTo(8);
        assertThat(o.get("kv_cache_floats_per_token").asLong()).isEqualTo(2L * 2 * 2 * 8); // layers · (K, V) · h_kv · hd
        assertThat(o.get("tokens_per_second").asDouble()).isPositive();
        int[] ids = IntStream.range(0, 8).map(i -> o.get("ids").get(i).asInt()).toArray();
        assertThat(ids).containsExactly(greedy(model, "Hello".getBytes(StandardCharsets.UTF_8), 8));
        byte[] raw = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            raw[i] = (byte) ids[i];
        }
        assertThat(o.get("text").asText()).isEqualTo(new String(raw, StandardCharsets.UTF_8));

        Cli plain = Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "8");
        assertThat(plain.code()).as(plain.err()).isZero();
        assertThat(plain.out()).isEqualTo(o.get("text").asText() + System.lineSeparator());
    }

    /** A BF16 model held in FP16 decodes the ids the FP32 holding does. */
    @Test
    void sixteenBitHoldingDecodesAsFp32Holding() throws IOException {
        Path model = tmp.resolve("bf16");
        Cli s = Cli.run("synth", "--family", "llama", "-o", model.toString(), "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "48", "--seed", "5", "--dtype", "bf16");
        assertThat(s.code()).as(s.err()).isZero();
        JsonNode half = JSON.readTree(Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "12",
                "--ignore-eos", "--json", "--weights", "fp16").out());
        JsonNode full = JSON.readTree(Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "12",
                "--ignore-eos", "--json", "--weights", "fp32").out());
        assertThat(half.get("ids")).isEqualTo(full.get("ids"));
        assertThat(half.get("weights_held").asText()).isEqualTo("fp16");
        assertThat(full.get("weights_held").asText()).isEqualTo("fp32");
        // A model this small fits in FP32 many times over: auto holds it there, for speed.
        JsonNode auto = JSON.readTree(Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "12",
                "--ignore-eos", "--json").out());
        assertThat(auto.get("weights_held").asText()).isEqualTo("fp32");
        assertThat(auto.get("ids")).isEqualTo(full.get("ids"));
        assertThat(half.get("new_tokens").asInt()).isEqualTo(12);
    }

    /** Decoding stops after the model's eos_token_id unless --ignore-eos. */
    @Test
    void generationStopsAtTheEndOfSequenceToken() throws IOException {
        Path model = synth("eos", "256");
        JsonNode all = JSON.readTree(Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "8",
                "--ignore-eos", "--json").out());
        int[] ids = IntStream.range(0, 8).map(i -> all.get("ids").get(i).asInt()).toArray();
        int at = 1; // the first generated id that did not occur before it
        while (at < ids.length - 1 && seenBefore(ids, at)) {
            at++;
        }
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.put("eos_token_id", ids[at]);
        JSON.writeValue(model.resolve("config.json").toFile(), config);
        JsonNode stopped = JSON.readTree(Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "8",
                "--json").out());
        assertThat(stopped.get("new_tokens").asInt()).isEqualTo(at + 1);
        assertThat(stopped.get("ids").get(at).asInt()).isEqualTo(ids[at]);
        assertThat(JSON.readTree(Cli.run("sample", model.toString(), "--prompt", "Hello", "--tokens", "8",
                "--ignore-eos", "--json").out()).get("new_tokens").asInt()).isEqualTo(8);
    }

    private static boolean seenBefore(int[] ids, int at) {
        for (int i = 0; i < at; i++) {
            if (ids[i] == ids[at]) {
                return true;
            }
        }
        return false;
    }

    @Test
    void theModelsTokenizerJsonIsUsedByDefault() throws IOException {
        Path model = synth("words", "7");
        Files.writeString(model.resolve("tokenizer.json"), TokenDataTestAccess.json());
        Cli r = Cli.run("sample", model.toString(), "--prompt", "the cat sat", "--tokens", "4", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(o.get("prompt_tokens").asInt()).isEqualTo(3);
        int[] ids = IntStream.range(0, 4).map(i -> o.get("ids").get(i).asInt()).toArray();
        assertThat(ids).containsExactly(greedy(model, new byte[] {1, 2, 3}, 4));
    }

    @Test
    void badRequestsAreOneLineErrors() {
        Path model = synth("small-vocab", "100");
        Cli none = Cli.run("sample", model.toString(), "--prompt", "hi");
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.errorLine()).startsWith("upcycle: InvalidOption : ").contains("no tokenizer");
        Cli outside = Cli.run("sample", model.toString(), "--prompt", "zz", "--bytes");
        assertThat(outside.code()).isEqualTo(3);
        assertThat(outside.errorLine()).contains("token id 122").contains("vocabulary of 100");
        Cli zero = Cli.run("sample", model.toString(), "--prompt", "a", "--bytes", "--tokens", "0");
        assertThat(zero.code()).isEqualTo(2);
        assertThat(zero.errorLine()).contains("--tokens");
        Cli empty = Cli.run("sample", model.toString(), "--prompt", "", "--bytes");
        assertThat(empty.code()).isEqualTo(2);
        assertThat(empty.errorLine()).contains("no tokens");
    }

    /** Greedy decoding without a cache: the argmax of the full forward's last row, appended, again. */
    private static int[] greedy(Path model, byte[] prompt, int n) {
        int[] seq = new int[prompt.length];
        for (int i = 0; i < prompt.length; i++) {
            seq[i] = prompt[i] & 0xFF;
        }
        int[] out = new int[n];
        try (CausalLm lm = CausalLm.load(model)) {
            for (int step = 0; step < n; step++) {
                float[] last = lm.logits(seq)[seq.length - 1];
                int best = 0;
                for (int i = 1; i < last.length; i++) {
                    best = last[i] > last[best] ? i : best;
                }
                out[step] = best;
                seq = IntStream.concat(IntStream.of(seq), IntStream.of(best)).toArray();
            }
        }
        return out;
    }
}
