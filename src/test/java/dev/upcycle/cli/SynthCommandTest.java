package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SynthCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "qwen3"})
    void everyDenseFamilyIsConsistentWithItsConfig(String family) throws IOException {
        Path out = tmp.resolve(family);
        Cli synth = Cli.run("synth", "--family", family, "-o", out.toString(), "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "48", "--vocab", "100");
        assertThat(synth.code()).as(synth.err()).isZero();
        Cli inspect = Cli.run("inspect", out.toString(), "--json");
        assertThat(inspect.code()).as(inspect.out() + inspect.err()).isZero();
        JsonNode doc = JSON.readTree(inspect.out());
        assertThat(doc.path("family").asText()).isEqualTo(family);
        assertThat(doc.path("problems")).isEmpty();
        assertThat(doc.path("architecture_numbers").path("hidden_size").asInt()).isEqualTo(32);
        assertThat(doc.path("parameters").path("total").asLong()).isEqualTo(doc.path("parameters").path("active").asLong());
        assertThat(out.resolve("upcycle.json")).exists();
        assertThat(listNames(tmp)).containsExactly(family);
    }

    @Test
    void sameSeedGivesSameBytesAndAnotherSeedDoesNot() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        Path c = tmp.resolve("c");
        assertThat(Cli.run("synth", "--family", "qwen2", "-o", a.toString(), "--seed", "7").code()).isZero();
        assertThat(Cli.run("synth", "--family", "qwen2", "-o", b.toString(), "--seed", "7").code()).isZero();
        assertThat(Cli.run("synth", "--family", "qwen2", "-o", c.toString(), "--seed", "8").code()).isZero();
        for (String f : new String[] {"model.safetensors", "config.json", "upcycle.json"}) {
            assertThat(Files.readAllBytes(a.resolve(f))).as(f).isEqualTo(Files.readAllBytes(b.resolve(f)));
        }
        assertThat(Files.readAllBytes(a.resolve("model.safetensors")))
                .isNotEqualTo(Files.readAllBytes(c.resolve("model.safetensors")));
    }

    @Test
    void smallShardLimitWritesAnIndexAndTheSameTensors() throws IOException {
        Path single = tmp.resolve("single");
        Path sharded = tmp.resolve("sharded");
        assertThat(Cli.run("synth", "--family", "llama", "-o", single.toString()).code()).isZero();
        Cli r = Cli.run("synth", "--family", "llama", "-o", sharded.toString(), "--max-shard-size", "100KB");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(sharded.resolve("model.safetensors.index.json")).exists();
        assertThat(sharded.resolve("model.safetensors")).doesNotExist();
        JsonNode one = JSON.readTree(Cli.run("inspect", single.toString(), "--json").out());
        JsonNode many = JSON.readTree(Cli.run("inspect", sharded.toString(), "--json").out());
        assertThat(many.path("sharded").asBoolean()).isTrue();
        assertThat(many.path("files").size()).isGreaterThan(1);
        assertThat(many.path("files").get(0).path("name").asText()).matches("model-00001-of-000\\d\\d\\.safetensors");
        assertThat(many.path("tensor_count")).isEqualTo(one.path("tensor_count"));
        assertThat(many.path("tensor_bytes")).isEqualTo(one.path("tensor_bytes"));
        assertThat(many.path("problems")).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({"bf16,BF16,bfloat16", "f16,F16,float16", "f32,F32,float32"})
    void dtypeOptionSetsTensorsAndConfig(String option, String dtype, String torch) throws IOException {
        Path out = tmp.resolve(option);
        assertThat(Cli.run("synth", "--family", "qwen3", "-o", out.toString(), "--dtype", option).code()).isZero();
        JsonNode doc = JSON.readTree(Cli.run("inspect", out.toString(), "--json").out());
        assertThat(doc.path("dtypes").fieldNames()).toIterable().containsExactly(dtype);
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(config.path("torch_dtype").asText()).isEqualTo(torch);
        assertThat(config.path("dtype").asText()).isEqualTo(torch);
    }

    @Test
    void tiedEmbeddingsDropLmHead() throws IOException {
        Path out = tmp.resolve("tied");
        assertThat(Cli.run("synth", "--family", "qwen2", "-o", out.toString(), "--tie-embeddings").code()).isZero();
        Cli r = Cli.run("inspect", out.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("tied to lm_head").contains("problems       none");
    }

    @Test
    void existingOutputNeedsForceAndForceReplacesIt() throws IOException {
        Path out = tmp.resolve("m");
        assertThat(Cli.run("synth", "--family", "llama", "-o", out.toString(), "--seed", "1").code()).isZero();
        byte[] first = Files.readAllBytes(out.resolve("model.safetensors"));
        Cli again = Cli.run("synth", "--family", "llama", "-o", out.toString(), "--seed", "2");
        assertThat(again.code()).isEqualTo(4);
        assertThat(again.errorLine()).startsWith("upcycle: OutputExists : ");
        assertThat(Files.readAllBytes(out.resolve("model.safetensors"))).isEqualTo(first);
        assertThat(Cli.run("synth", "--family", "llama", "-o", out.toString(), "--seed", "2", "--force").code()).isZero();
        assertThat(Files.readAllBytes(out.resolve("model.safetensors"))).isNotEqualTo(first);
        assertThat(listNames(tmp)).containsExactly("m");
    }

    @Test
    void moeFamilyAndBadDtypeAreRefusedWithoutWriting() throws IOException {
        Cli moe = Cli.run("synth", "--family", "mixtral", "-o", tmp.resolve("x").toString());
        assertThat(moe.code()).isEqualTo(2);
        assertThat(moe.errorLine()).startsWith("upcycle: InvalidOption : --family : mixtral is a MoE family");
        Cli dtype = Cli.run("synth", "--family", "llama", "-o", tmp.resolve("y").toString(), "--dtype", "f64");
        assertThat(dtype.code()).isEqualTo(2);
        Cli unknown = Cli.run("synth", "--family", "gpt2", "-o", tmp.resolve("z").toString());
        // A value outside the option's list is a usage error, naming only the families synth writes.
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.errorLine()).isEqualTo(
                "upcycle: InvalidOption : --family : \"gpt2\" is not one of llama, mistral, qwen2, qwen3");
        Cli heads = Cli.run("synth", "--family", "llama", "-o", tmp.resolve("w").toString(), "--heads", "4",
                "--kv-heads", "3");
        assertThat(heads.code()).isEqualTo(3);
        assertThat(heads.errorLine()).startsWith("upcycle: InvalidConfig : ");
        assertThat(listNames(tmp)).isEmpty();
    }

    static java.util.List<String> listNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
