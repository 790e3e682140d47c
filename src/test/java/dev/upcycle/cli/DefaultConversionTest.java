package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code convert MODEL} with no routing, scaling or target option: every supported source converts
 * exactly, into its own MoE family, and auto names that family as its first choice.
 */
class DefaultConversionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @CsvSource({"llama, mixtral", "mistral, mixtral", "qwen2, qwen2-moe", "qwen3, qwen3-moe"})
    void theDefaultsAreExactInTheNaturalFamily(String family, String target, @TempDir Path tmp) throws IOException {
        Path model = tmp.resolve(family);
        List<String> synth = family.equals("qwen3")
                ? List.of("synth", "--family", family, "-o", model.toString(), "--head-dim", "16", "-q")
                : List.of("synth", "--family", family, "-o", model.toString(), "-q");
        assertThat(Cli.run(synth.toArray(String[]::new)).code()).isZero();
        Cli r = Cli.run("convert", model.toString(), "--experts", "4", "--top-k", "2", "--dry-run", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode doc = JSON.readTree(r.out());
        assertThat(doc.get("target").asText()).isEqualTo(target);
        assertThat(doc.get("step0").get("verdict").asText()).isEqualTo("exact");
        // The natural family is tried first, so no other target is named as rejected.
        assertThat(doc.get("choices").get(0).asText()).startsWith("target " + target + " (auto)").doesNotContain("; not ");
    }

    @ParameterizedTest
    @CsvSource({"llama, qwen2-moe"})
    void thePapersRoutingIsOneOptionAway(String family, String target, @TempDir Path tmp) throws IOException {
        Path model = tmp.resolve(family);
        assertThat(Cli.run("synth", "--family", family, "-o", model.toString(), "-q").code()).isZero();
        Cli r = Cli.run("convert", model.toString(), "--routing", "softmax-topk", "--dry-run", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode doc = JSON.readTree(r.out());
        assertThat(doc.get("target").asText()).isEqualTo(target);
        assertThat(doc.get("step0").get("verdict").asText()).isEqualTo("approximate");
    }
}
