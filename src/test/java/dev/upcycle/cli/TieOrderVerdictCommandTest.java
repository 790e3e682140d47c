package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dry run's verdict never rests on the top-K's tie order (N = 6, G = 2, K = 2). */
class TieOrderVerdictCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path models;
    static Path llama;

    @BeforeAll
    static void synth() {
        llama = models.resolve("llama");
        assertThat(Cli.run("synth", "--family", "llama", "--intermediate", "96", "-o", llama.toString(), "-q").code())
                .isZero();
    }

    private static JsonNode step0(String... options) throws IOException {
        String[] args = new String[options.length + 4];
        args[0] = "convert";
        args[1] = llama.toString();
        args[2] = "--dry-run";
        args[3] = "--json";
        System.arraycopy(options, 0, args, 4, options.length);
        Cli r = Cli.run(args);
        assertThat(r.code()).as(r.err()).isZero();
        return JSON.readTree(r.out()).get("step0");
    }

    @Test
    void zeroRouterWithGroupsIsNotFunctionPreservingAndSaysWhy() throws IOException {
        for (String routing : new String[] {"topk-softmax", "softmax-topk"}) {
            JsonNode s = step0("--experts", "6", "--granularity", "2", "--top-k", "2", "--routing", routing,
                    "--scaling", "exact-down", "--router-init", "zero");
            assertThat(s.get("verdict").asText()).as(routing).isEqualTo("not function-preserving");
            assertThat(s.get("reasons").toString()).contains("tie order", "PyTorch", "transformers", "vLLM");
        }
        // Every expert selected: no tie can matter.
        assertThat(step0("--experts", "6", "--granularity", "2", "--top-k", "6", "--routing", "softmax-topk",
                "--scaling", "exact-down", "--router-init", "zero").get("verdict").asText()).isEqualTo("exact");
        // Distinct group rows: the boundary falls between groups.
        assertThat(step0("--experts", "6", "--granularity", "2", "--top-k", "2", "--routing", "topk-softmax",
                "--scaling", "exact-down").get("verdict").asText()).isEqualTo("exact");
    }

    @Test
    void aRouterThatRoundsToZeroIsTreatedAsTheZeroRouter() throws IOException {
        // 8 sigma below half of F16's smallest subnormal: every router weight is written as 0.
        JsonNode s = step0("--experts", "6", "--granularity", "2", "--top-k", "2", "--routing", "topk-softmax",
                "--scaling", "exact-down", "--dtype", "f16", "--router-std", "1e-9");
        assertThat(s.get("verdict").asText()).isEqualTo("not function-preserving");
        assertThat(s.get("reasons").get(0).asText()).contains("rounds to zero in F16");
        // The same std in float32 leaves distinct rows.
        assertThat(step0("--experts", "6", "--granularity", "2", "--top-k", "2", "--routing", "topk-softmax",
                "--scaling", "exact-down", "--dtype", "f32", "--router-std", "1e-9").get("verdict").asText())
                .isEqualTo("exact");
    }
}
