package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.io.DType;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.TinyModels;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code upcycle verify}: each integrity failure is detected and named; --against passes and fails as it should. */
class VerifyCommandTest {
    @TempDir
    Path tmp;

    private Path dense() {
        return TinyModels.random(tmp.resolve("dense"), "llama", DType.F32, b -> { });
    }

    private static JsonNode check(Cli r, String name) throws IOException {
        for (JsonNode c : new ObjectMapper().readTree(r.out()).get("checks")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no check " + name + " in " + r.out());
    }

    @Test
    void cleanCheckpointPasses() throws IOException {
        Cli r = Cli.run("verify", dense().toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        for (String name : new String[] {"manifest", "headers", "index", "config", "finite"}) {
            assertThat(check(r, name).get("status").asText()).as(name).isEqualTo("pass");
        }
    }

    @Test
    void shippedTinyModelPasses() {
        Cli r = Cli.run("verify", "test-fixtures/tiny-llama");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("PASS  manifest").contains("result: every check passed");
    }

    @Test
    void flippedByteIsASha256Mismatch() throws IOException {
        Path d = dense();
        Path file = d.resolve("model.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long at = f.length() - 3;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x01);
        }
        Cli r = Cli.run("verify", d.toString(), "--json");
        assertThat(r.code()).isEqualTo(1);
        JsonNode m = check(r, "manifest");
        assertThat(m.get("status").asText()).isEqualTo("fail");
        assertThat(m.get("problems").get(0).asText()).contains("model.safetensors: SHA-256");
    }

    @Test
    void truncatedFileFailsManifestAndHeaders() throws IOException {
        Path d = dense();
        try (RandomAccessFile f = new RandomAccessFile(d.resolve("model.safetensors").toFile(), "rw")) {
            f.setLength(f.length() - 100);
        }
        Cli r = Cli.run("verify", d.toString(), "--json");
        // A malformed file is bad input (exit 3) for every command; the report still lists every check.
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: MetadataIncompleteBuffer : ");
        assertThat(check(r, "manifest").get("problems").get(0).asText()).contains("bytes, upcycle.json says");
        assertThat(check(r, "headers").get("status").asText()).isEqualTo("fail");
    }

    @Test
    void missingShardFailsTheIndexCheck() throws IOException {
        Path d = tmp.resolve("sharded");
        TinyModels.synth(d, TinyModels.small("llama").build(), DType.F32, 1, 20_000);
        TinyModels.manifest(d);
        Path shard = d.resolve("model-00002-of-" + String.format("%05d", countShards(d)) + ".safetensors");
        Files.delete(shard);
        Cli r = Cli.run("verify", d.toString(), "--json");
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: MissingShard : ");
        assertThat(check(r, "manifest").get("problems").get(0).asText()).contains(shard.getFileName() + ": missing");
        JsonNode index = check(r, "index");
        assertThat(index.get("status").asText()).isEqualTo("fail");
        assertThat(index.get("problems").get(0).asText()).contains("MissingShard");
    }

    private static long countShards(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.filter(p -> p.getFileName().toString().matches("model-\\d+-of-\\d+\\.safetensors")).count();
        }
    }

    @Test
    void nanIsFound() throws IOException {
        Path d = dense();
        Path file = d.resolve("model.safetensors");
        String name = "model.layers.1.mlp.up_proj.weight";
        long at;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorHeader t = f.tensor(name);
            at = f.dataStart() + t.begin() + 4 * 5;
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            f.write(new byte[] {0, 0, (byte) 0xC0, 0x7F}); // quiet NaN, little-endian
        }
        TinyModels.manifest(d);
        Cli r = Cli.run("verify", d.toString(), "--json");
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).isEqualTo("upcycle: NonFiniteWeights : tensor " + name + " : 1 NaN or Inf value(s)");
        assertThat(check(r, "manifest").get("status").asText()).isEqualTo("pass");
        JsonNode finite = check(r, "finite");
        assertThat(finite.get("status").asText()).isEqualTo("fail");
        assertThat(finite.get("problems").get(0).asText()).isEqualTo(name + ": 1 NaN or Inf value(s)");
    }

    @Test
    void missingTensorFailsTheConfigCheck() throws IOException {
        Path d = dense();
        // The config now promises q/k/v/o biases the file does not hold.
        Path config = d.resolve("config.json");
        Files.writeString(config, Files.readString(config).replace("\"attention_bias\": false",
                "\"attention_bias\": true"));
        TinyModels.manifest(d);
        Cli r = Cli.run("verify", d.toString(), "--json");
        assertThat(r.code()).as(r.out()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: ConfigConflict : ").contains("q_proj.bias");
        JsonNode c = check(r, "config");
        assertThat(c.get("status").asText()).isEqualTo("fail");
        assertThat(c.get("problems").toString()).contains("model.layers.0.self_attn.q_proj.bias");
    }

    @Test
    void againstPassesOnCopiedExperts() throws IOException {
        Path d = TinyModels.random(tmp.resolve("dense"), "mistral", DType.F32, b -> b.slidingWindow(8));
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        Cli r = Cli.run("verify", m.toString(), "--against", d.toString(), "--json");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode f = new ObjectMapper().readTree(r.out()).get("functional");
        assertThat(f.get("ok").asBoolean()).isTrue();
        assertThat(f.get("tolerance").asDouble()).isEqualTo(1e-5);
        assertThat(f.get("sequence_lengths").toString()).isEqualTo("[1,7,64]");
        assertThat(f.get("layer_errors").size()).isEqualTo(2);
    }

    @Test
    void againstNamesTheFirstDivergentLayer() {
        Path d = dense();
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), "mixtral", 4, 2, 1);
        Cli r = Cli.run("verify", m.toString(), "--against", d.toString());
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).contains("FAIL  functional").contains("layer 1 diverges first")
                .contains("<- first divergence");
    }

    @Test
    void againstAnUnrelatedModelIsBadInput() {
        Path d = dense();
        Path other = TinyModels.random(tmp.resolve("other"), "llama", DType.F32, b -> b.vocabSize(50));
        Cli r = Cli.run("verify", d.toString(), "--against", other.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).contains("cannot be the source").contains("vocab_size 97 vs 50");
    }

    @Test
    void noCheckpointIsBadInput() {
        Cli r = Cli.run("verify", tmp.resolve("nothing").toString());
        assertThat(r.code()).isEqualTo(3);
    }

    @Test
    void bf16CopiesAreHeldToF32ArithmeticAndRunPastTheWindow() throws IOException {
        Path d = TinyModels.random(tmp.resolve("dense"), "mistral", DType.BF16, b -> b.slidingWindow(8));
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        Cli r = Cli.run("verify", m.toString(), "--against", d.toString(), "--tokens", "10", "--json");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode f = new ObjectMapper().readTree(r.out()).get("functional");
        // Every weight is the dense model's own BF16 value (the weights check proves it): the bound is f32 arithmetic.
        assertThat(f.get("tolerance").asDouble()).isEqualTo(1e-5);
        assertThat(f.get("tolerance_basis").asText()).contains("f32 arithmetic");
        assertThat(f.get("sequence_lengths").toString()).isEqualTo("[1,7,24]");
        // FP32 compute on identical BF16 weights: far inside even the F32 bound
        assertThat(f.get("logits_error").asDouble()).isLessThan(1e-5);
    }

    @Test
    void explicitToleranceIsUsed() throws IOException {
        Path d = dense();
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        Cli r = Cli.run("verify", m.toString(), "--against", d.toString(), "--tolerance", "10", "--json");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).at("/functional/tolerance_basis").asText())
                .isEqualTo("--tolerance");
    }

    @Test
    void unsupportedRopeTypeIsBadInput() throws IOException {
        Path d = dense();
        Path m = TinyModels.upcycle(d, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        Path config = m.resolve("config.json");
        String json = Files.readString(config);
        json = json.replace("\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2.0}");
        json = json.replaceAll("\"rope_parameters\": \\{[^}]*\\}",
                "\"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 2.0, \"rope_theta\": 10000.0}");
        Files.writeString(config, json);
        Cli r = Cli.run("verify", m.toString(), "--against", d.toString());
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(3);
        assertThat(r.errorLine()).contains("yarn");
    }
}
