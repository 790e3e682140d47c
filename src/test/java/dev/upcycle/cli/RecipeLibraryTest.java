package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every shipped recipe runs on a small synth model (passed in with --set model=...), so none of
 * them rots: a renamed option or a changed default breaks this test, not a user's pipeline.
 */
class RecipeLibraryTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path RECIPES = Paths.get("recipes");

    @TempDir
    static Path tmp;
    static Path model;
    static Path data;
    static Path valid;

    /** A small byte-level model and a few KB of the corpus, so training recipes take seconds. */
    @BeforeAll
    static void fixtures() throws IOException {
        model = tmp.resolve("dense");
        Cli r = Cli.run("synth", "--family", "llama", "-o", model.toString(), "--layers", "2", "--hidden", "32",
                "--heads", "4", "--kv-heads", "2", "--intermediate", "64", "--vocab", "256");
        assertThat(r.code()).as(r.err()).isZero();
        String text = Files.readString(Paths.get("test-fixtures/corpus/train.txt"));
        data = Files.writeString(tmp.resolve("train.txt"), text.substring(0, 60_000));
        valid = Files.writeString(tmp.resolve("valid.txt"), text.substring(60_000, 66_000));
    }

    static List<Path> recipes() throws IOException {
        try (Stream<Path> s = Files.list(RECIPES)) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
    }

    /** Every recipe documents itself at the top and parses. */
    @ParameterizedTest
    @MethodSource("recipes")
    void startsWithAComment(Path recipe) throws IOException {
        assertThat(Files.readString(recipe)).startsWith("#");
    }

    @ParameterizedTest
    @MethodSource("recipes")
    void runsOnASynthModel(Path recipe) throws IOException {
        Path work = tmp.resolve("work-" + recipe.getFileName());
        // Every recipe takes its inputs and sizes as variables, so the same file runs here in seconds.
        // Only the variables this recipe uses: --set of a name no step uses is an error.
        String text = Files.readString(recipe);
        List<String> args = new java.util.ArrayList<>(List.of("run", recipe.toString(), "--json"));
        java.util.Map<String, Object> sets = new java.util.LinkedHashMap<>();
        sets.put("model", model);
        sets.put("work", work);
        sets.put("checkpoint", model);
        sets.put("data", data);
        sets.put("valid", valid);
        sets.put("steps", 2);
        sets.put("warmup", 1);
        sets.forEach((name, value) -> {
            if (text.contains("${" + name + "}")) {
                args.addAll(List.of("--set", name + "=" + value));
            }
        });
        Cli r = Cli.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        if (recipe.getFileName().toString().equals("bam.yaml")) {
            // Its merges route top-2, as the README's: no router is left without a gradient.
            assertThat(r.err()).doesNotContain("router receives no gradient");
        }
        JsonNode doc = JSON.readTree(r.out());
        assertThat(doc.path("steps").findValuesAsText("status")).isNotEmpty().allMatch("ok"::equals);
        for (JsonNode step : doc.path("steps")) {
            if (step.path("command").asText().equals("verify") && step.path("figures").has("logits_error")) {
                // The functional check ran and passed its tolerance.
                assertThat(step.path("figures").path("checks_passed").asLong())
                        .isEqualTo(step.path("figures").path("checks").asLong());
            }
        }
    }

    @Test
    void theLibraryCoversTheDocumentedRecipes() throws IOException {
        assertThat(recipes()).extracting(p -> p.getFileName().toString())
                .contains("quickstart.yaml", "pretrain-tiny.yaml", "ablation.yaml", "bam.yaml", "bam-ablation.yaml", "mixtral-copy.yaml",
                        "fine-grained.yaml", "qwen2-moe-shared.yaml", "partial.yaml", "ci-integrity.yaml", "paper.yaml",
                        "mergekit.yaml");
    }
}
