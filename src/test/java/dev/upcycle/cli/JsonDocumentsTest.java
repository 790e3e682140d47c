package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command's --json document follows docs/json.md: schema_version and ok first (ok exactly
 * when the exit code is 0), snake_case keys throughout, and every top-level key documented in the
 * command's section of that page.
 */
class JsonDocumentsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TINY = "test-fixtures/tiny-llama";
    private static final Pattern SNAKE = Pattern.compile("[a-z][a-z0-9_]*");

    @TempDir
    static Path tmp;
    static Path text;

    @BeforeAll
    static void data() throws IOException {
        text = Files.writeString(tmp.resolve("v.txt"),
                Files.readString(Path.of("test-fixtures/corpus/valid.txt")).substring(0, 3000));
    }

    private static JsonNode check(String section, Cli r) throws IOException {
        JsonNode doc = JSON.readTree(r.out());
        List<String> keys = new ArrayList<>();
        doc.fieldNames().forEachRemaining(keys::add);
        assertThat(keys.subList(0, 2)).as(r.out()).containsExactly("schema_version", "ok");
        assertThat(doc.get("schema_version").isInt()).isTrue();
        assertThat(doc.get("schema_version").asInt()).isEqualTo(Json.SCHEMA_VERSION);
        assertThat(doc.get("ok").isBoolean()).isTrue();
        assertThat(doc.get("ok").asBoolean()).isEqualTo(r.code() == 0);
        snakeCase(doc, "", r.out());
        String documented = section(section);
        for (String key : keys.subList(2, keys.size())) {
            assertThat(documented).as("docs/json.md, %s, documents '%s'", section, key).contains("`" + key + "`");
        }
        return doc;
    }

    private static void snakeCase(JsonNode node, String path, String doc) {
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                assertThat(e.getKey()).as("key %s%s in %s", path, e.getKey(), doc).matches(SNAKE);
                if (!path.isEmpty() || !e.getKey().equals("dtypes")) { // dtypes is keyed by dtype names (BF16)
                    snakeCase(e.getValue(), path + e.getKey() + ".", doc);
                }
            }
        } else if (node.isArray()) {
            node.forEach(n -> snakeCase(n, path + "[].", doc));
        }
    }

    /** The text of docs/json.md from the heading that names {@code section} to the next heading. */
    private static String section(String section) throws IOException {
        String page = Files.readString(Path.of("docs/json.md"));
        Matcher m = Pattern.compile("(?ms)^## [^\\n]*" + Pattern.quote(section) + "[^\\n]*\\n(.*?)(?=^## |\\z)").matcher(page);
        assertThat(m.find()).as("docs/json.md has a section for " + section).isTrue();
        return m.group(1);
    }

    @Test
    void inspect() throws IOException {
        JsonNode doc = check("upcycle inspect", Cli.run("inspect", TINY, "--json"));
        assertThat(doc.at("/parameters/total").isIntegralNumber()).isTrue();
    }

    @Test
    void verifyWithoutAgainstHasNoFunctionalCheck() throws IOException {
        JsonNode doc = check("upcycle verify", Cli.run("verify", TINY, "--json"));
        assertThat(doc.has("functional")).isFalse();
        assertThat(doc.get("checks").findValuesAsText("name")).doesNotContain("functional");
    }

    @Test
    void convertDryRunAndRealRun() throws IOException {
        JsonNode plan = check("upcycle convert", Cli.run("convert", TINY, "--dry-run", "--json"));
        assertThat(plan.has("total_parameters")).isFalse();
        assertThat(plan.at("/parameters/active").isIntegralNumber()).isTrue();
        // The accounting rows count parameters under the same name.
        assertThat(plan.get("accounting")).isNotEmpty().allSatisfy(row -> {
            assertThat(row.has("total_parameters") || row.has("active_parameters")).isFalse();
            assertThat(row.at("/parameters/total").isIntegralNumber()).isTrue();
            assertThat(row.at("/parameters/active").isIntegralNumber()).isTrue();
        });
        Path out = tmp.resolve("moe");
        JsonNode wrote = check("upcycle convert",
                Cli.run("convert", TINY, "-o", out.toString(), "--routing", "topk-softmax", "--json"));
        assertThat(wrote.has("total_parameters")).isFalse();
        assertThat(wrote.at("/parameters/total").asLong()).isEqualTo(plan.at("/parameters/total").asLong());
        // upcycle.json's plan block follows the same convention.
        JsonNode recorded = JSON.readTree(out.resolve("upcycle.json").toFile()).get("plan");
        assertThat(recorded.has("total_parameters")).isFalse();
        assertThat(recorded.at("/parameters/total").asLong()).isEqualTo(plan.at("/parameters/total").asLong());
        assertThat(recorded.at("/accounting/0/parameters/active").isIntegralNumber()).isTrue();
        JsonNode verify = check("upcycle verify", Cli.run("verify", out.toString(), "--against", TINY, "--json"));
        assertThat(verify.at("/functional/ok").asBoolean()).isTrue();
    }

    @Test
    void evalOkFollowsTheExitCode() throws IOException {
        check("upcycle eval", Cli.run("eval", TINY, "--data", text.toString(), "--bytes", "--json"));
        Cli missed = Cli.run("eval", TINY, "--data", text.toString(), "--bytes", "--json", "--max-loss", "0");
        assertThat(missed.code()).isEqualTo(1);
        assertThat(check("upcycle eval", missed).get("ok").asBoolean()).isFalse();
    }

    @Test
    void sample() throws IOException {
        check("upcycle sample", Cli.run("sample", TINY, "--prompt", "The ", "--tokens", "2", "--json"));
    }

    @Test
    void trainReportsThroughputAndConfigInOneSpelling() throws IOException {
        JsonNode doc = check("upcycle train", Cli.run("train", TINY, "--data", text.toString(), "--bytes", "-o",
                tmp.resolve("run").toString(), "--steps", "2", "--batch", "1", "--seq-len", "16", "--json"));
        assertThat(doc.get("tokens_per_second").isNumber()).isTrue();
        assertThat(doc.get("device").asText()).isIn("cpu", "gpu 0");
        assertThat(doc.at("/config/seq_len").asInt()).isEqualTo(16);
    }

    @Test
    void runFiguresAreNumbers() throws IOException {
        Path recipe = Files.writeString(tmp.resolve("r.yaml"), "steps:\n  - inspect: {path: \"" + TINY + "\"}\n"
                + "  - verify: {dir: \"" + TINY + "\"}\n");
        JsonNode doc = check("upcycle run", Cli.run("run", recipe.toString(), "--json"));
        JsonNode inspect = doc.at("/steps/0/figures");
        assertThat(inspect.get("params").isIntegralNumber()).as(inspect.toString()).isTrue();
        JsonNode verify = doc.at("/steps/1/figures");
        assertThat(verify.get("checks_passed").asLong()).isEqualTo(verify.get("checks").asLong()).isPositive();
    }
}
