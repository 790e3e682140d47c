package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** upcycle.json's options come from picocli's model of the command: its order, its names, its values. */
class RecordedOptionsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static JsonNode options(Path out) throws IOException {
        return JSON.readTree(out.resolve("upcycle.json").toFile()).path("options");
    }

    private static List<String> keys(JsonNode o) {
        List<String> keys = new ArrayList<>();
        o.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    /** The long names of a command's options, without dashes, in declaration order. */
    private static List<String> declared(String command) {
        CommandSpec spec = Main.commandLine().getSubcommands().get(command).getCommandSpec();
        return spec.options().stream().map(OptionSpec::longestName).map(n -> n.substring(2)).toList();
    }

    @Test
    void synthRecordsEveryOptionThatShapesTheModelAsGivenInDeclarationOrder() throws IOException {
        Path out = tmp.resolve("s");
        Cli r = Cli.run("synth", "--family", "qwen2", "-o", out.toString(), "--quiet", "--layers", "1",
                "--hidden", "16", "--heads", "2", "--kv-heads", "1", "--intermediate", "24", "--vocab", "300",
                "--sliding-window", "64", "--dtype", "BF16", "--seed", "5", "--max-shard-size", "1GiB");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = options(out);
        // Where the output goes (-o, --quiet) is no part of the model; unset --head-dim and
        // --parallel-blocks are left out; the dtype is recorded by its torch name.
        assertThat(keys(o)).containsExactly("family", "layers", "hidden", "heads", "kv-heads", "intermediate", "vocab",
                "tie-embeddings", "attention-bias", "sliding-window", "dtype", "seed", "max-shard-size");
        assertThat(keys(o)).isSubsetOf(declared("synth")).containsSubsequence(declared("synth").stream()
                .filter(keys(o)::contains).toList());
        assertThat(o.path("family").asText()).isEqualTo("qwen2");
        assertThat(o.path("vocab").isInt()).isTrue();
        assertThat(o.path("vocab").asInt()).isEqualTo(300);
        assertThat(o.path("sliding-window").asInt()).isEqualTo(64);
        assertThat(o.path("tie-embeddings").isBoolean()).isTrue();
        assertThat(o.path("dtype").asText()).isEqualTo("bfloat16");
        assertThat(o.path("seed").isIntegralNumber()).isTrue();
        assertThat(o.path("max-shard-size").asText()).isEqualTo("1GiB");
    }

    @Test
    void convertRecordsTheResolvedValuesOfAMergeAndNoReportingOptions() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        for (Path seed : List.of(a, b)) {
            Cli s = Cli.run("synth", "--family", "llama", "-o", seed.toString(), "--layers", "1", "--hidden", "16",
                    "--heads", "2", "--kv-heads", "1", "--intermediate", "32", "--seed", seed == a ? "1" : "2", "-q");
            assertThat(s.code()).as(s.err()).isZero();
        }
        Path out = tmp.resolve("moe");
        Cli r = Cli.run("convert", a.toString(), b.toString(), "-o", out.toString(), "--json", "--quiet", "--debug",
                "--routing", "TOPK-SOFTMAX", "--layers", "0", "--dtype", "f32");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode o = options(out);
        List<String> declared = declared("convert");
        assertThat(keys(o).subList(0, keys(o).size() - 1)).containsSubsequence(declared.stream()
                .filter(keys(o)::contains).toList());
        assertThat(keys(o)).doesNotContain("output", "json", "quiet", "dry-run", "force", "verbose", "debug",
                "attention-experts", "shared-kv-init", "parallel-norms");
        // Two seeds: one expert each, top-k capped at 2, random routers, as the conversion used them.
        assertThat(o.path("experts").asInt()).isEqualTo(2);
        assertThat(o.path("top-k").asInt()).isEqualTo(2);
        assertThat(o.path("router-init").asText()).isEqualTo("random");
        assertThat(o.path("routing").asText()).isEqualTo("topk-softmax");
        assertThat(o.path("shared-expert-size").asInt()).isZero();
        assertThat(o.path("layers").isTextual()).isTrue();
        assertThat(o.path("dtype").asText()).isEqualTo("f32");
        assertThat(o.path("router-std").isDouble()).isTrue();
        assertThat(o.path("allow-nonfinite").asBoolean()).isFalse();
        // The one setting that is no option comes last.
        assertThat(keys(o).get(keys(o).size() - 1)).isEqualTo("router-aux-loss-coef");
    }

    @Test
    void onlyAnOptionOfTheCommandCanBeResolved() {
        CommandSpec spec = Main.commandLine().getSubcommands().get("synth").getCommandSpec();
        assertThatThrownBy(() -> RecordedOptions.of(spec).resolved("no-such-option", 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--no-such-option");
    }
}
