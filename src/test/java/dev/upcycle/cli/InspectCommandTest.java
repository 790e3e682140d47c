package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path model;

    @BeforeEach
    void synth() {
        model = tmp.resolve("model");
        Cli r = Cli.run("synth", "--family", "llama", "-o", model.toString(), "--layers", "3");
        assertThat(r.code()).as(r.err()).isZero();
    }

    @Test
    void tableShowsFamilyNumbersAndNoProblems() {
        Cli r = Cli.run("inspect", model.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("family         llama (LlamaForCausalLM)")
                .contains("layers         3")
                .contains("4 heads, 2 kv heads, head_dim 16")
                .contains("dtypes         F32")
                .contains("tensors        30 ")
                .contains("file           model.safetensors")
                .contains("problems       none");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void jsonIsOneDocumentWithCountsThatAddUp() throws IOException {
        Cli r = Cli.run("inspect", model.toString(), "--json");
        assertThat(r.code()).isZero();
        JsonNode doc = JSON.readTree(r.out());
        assertThat(doc.path("ok").asBoolean()).isTrue();
        assertThat(doc.path("tensor_count").asInt()).isEqualTo(30);
        // 3 layers x (q 64x64 + k 32x64 + v 32x64 + o 64x64 + 3 x 128x64 + 2 x 64) + embed + head + norm
        long perLayer = 64 * 64 + 32 * 64 + 32 * 64 + 64 * 64 + 3 * 128 * 64 + 2 * 64;
        long total = 3 * perLayer + 2 * 256 * 64 + 64;
        assertThat(doc.path("parameters").path("total").asLong()).isEqualTo(total);
        assertThat(doc.path("tensor_bytes").asLong()).isEqualTo(4 * total);
        assertThat(doc.path("dtypes").path("F32").asLong()).isEqualTo(total);
        assertThat(doc.path("moe").isNull()).isTrue();
    }

    /**
     * The native format (docs/attention-experts.md, "The native checkpoint format"): attention experts,
     * their routing and the block layout of native models.
     */
    @Test
    void nativeModelsShowAttentionExpertsAndBlocks(@TempDir Path dir) throws IOException {
        Path seed = dir.resolve("seed");
        assertThat(Cli.run("synth", "--family", "llama", "--parallel-blocks", "1", "-o", seed.toString(), "-q").code())
                .isZero();
        Cli s = Cli.run("inspect", seed.toString());
        assertThat(s.out()).contains("blocks         parallel, 1 norm").doesNotContain("attn experts");
        Path moa = dir.resolve("moa");
        Cli c = Cli.run("convert", seed.toString(), "-o", moa.toString(), "--attention", "moa-shared-kv",
                "--attention-experts", "3", "--attention-top-k", "2", "--experts", "4", "-q");
        assertThat(c.code()).as(c.err()).isZero();
        Cli t = Cli.run("inspect", moa.toString());
        assertThat(t.out()).contains("attn experts   3 per layer (shared_kv), top-2 renormalised, layers 0-1 of 2")
                .contains("blocks         parallel, 1 norm");
        JsonNode j = new ObjectMapper().readTree(Cli.run("inspect", moa.toString(), "--json").out()).path("moa");
        assertThat(j.path("variant").asText()).isEqualTo("shared_kv");
        assertThat(j.path("attention_experts").asInt()).isEqualTo(3);
        assertThat(j.path("attention_experts_per_tok").asInt()).isEqualTo(2);
        assertThat(j.path("moa_layers").toString()).isEqualTo("[0,1]");
        assertThat(j.path("block_layout").asText()).isEqualTo("parallel");
        assertThat(new ObjectMapper().readTree(Cli.run("inspect", model.toString(), "--json").out()).path("moa").isNull())
                .isTrue();
    }

    @Test
    void singleFileAndIndexPathsAreAccepted() {
        Cli file = Cli.run("inspect", model.resolve("model.safetensors").toString());
        assertThat(file.code()).as(file.err()).isZero();
        assertThat(file.out()).contains("llama");
    }

    @Test
    void shapeDisagreementIsReportedAndExits3() throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.put("intermediate_size", 96);
        Files.writeString(model.resolve("config.json"), config.toString(), StandardCharsets.UTF_8);
        Cli r = Cli.run("inspect", model.toString(), "--json");
        assertThat(r.code()).isEqualTo(3);
        JsonNode doc = JSON.readTree(r.out());
        assertThat(doc.path("ok").asBoolean()).isFalse();
        assertThat(doc.path("problems").get(0).path("kind").asText()).isEqualTo("ShapeMismatch");
        assertThat(doc.path("problems").get(0).path("tensor").asText()).isEqualTo("model.layers.0.mlp.gate_proj.weight");
    }

    @Test
    void tiedLmHeadThatDiffersIsAConfigConflict() throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.put("tie_word_embeddings", true);
        Files.writeString(model.resolve("config.json"), config.toString(), StandardCharsets.UTF_8);
        Cli r = Cli.run("inspect", model.toString(), "--json");
        assertThat(r.code()).isEqualTo(3);
        JsonNode doc = JSON.readTree(r.out());
        assertThat(doc.path("problems").findValuesAsText("kind")).contains("ConfigConflict");
    }

    @Test
    void malformedFileIsOneLineErrorExit3() throws IOException {
        Files.write(model.resolve("model.safetensors"), new byte[] {1, 2, 3});
        Cli r = Cli.run("inspect", model.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: HeaderTooSmall : ").contains("model.safetensors");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void pickleCheckpointIsRefusedWithAHint() throws IOException {
        Path pickle = Files.createDirectories(tmp.resolve("pickle"));
        Files.write(pickle.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
        Cli r = Cli.run("inspect", pickle.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: UnsupportedPickleCheckpoint : ");
        assertThat(r.err()).contains("safetensors");
    }

    @Test
    void unsupportedFamilyExit3() throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.put("model_type", "gpt2");
        Files.writeString(model.resolve("config.json"), config.toString(), StandardCharsets.UTF_8);
        Cli r = Cli.run("inspect", model.toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: UnsupportedArchitecture : ");
    }

    @Test
    void missingPathIsAnInputError() {
        Cli r = Cli.run("inspect", tmp.resolve("nope").toString());
        assertThat(r.code()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: ");
    }
}
