package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path recipe(String name, String yaml) throws IOException {
        Path f = tmp.resolve(name);
        Files.writeString(f, yaml, StandardCharsets.UTF_8);
        return f;
    }

    @Test
    void stepsRunInOrderWithVariablesAndASummary() throws IOException {
        Path r = recipe("ok.yaml", """
                name: demo
                vars: {work: %s, model: "${work}/m"}
                steps:
                  - synth: {family: qwen2, output: "${model}", seed: 3, tie-embeddings: true}
                  - inspect: {path: "${model}"}
                """.formatted(tmp));
        Cli c = Cli.run("run", r.toString());
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(tmp.resolve("m/model.safetensors")).exists();
        assertThat(c.out()).contains("== demo step 1 (synth)").contains("== demo step 2 (inspect)")
                .containsPattern("demo\\s+step 2 \\(inspect\\)\\s+ok\\s+[0-9.]+s\\s+params [0-9,]+, problems 0");
    }

    @Test
    void setOverridesAVariable() throws IOException {
        Path r = recipe("set.yaml", """
                vars: {out: nowhere}
                steps:
                  - synth: {family: llama, output: "${out}"}
                """);
        Cli c = Cli.run("run", r.toString(), "--set", "out=" + tmp.resolve("via-set"));
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(tmp.resolve("via-set/config.json")).exists();
        assertThat(tmp.resolve("nowhere")).doesNotExist();
    }

    @Test
    void unknownKeyIsRejectedBeforeAnyStepRuns() throws IOException {
        Path r = recipe("bad.yaml", """
                steps:
                  - synth: {family: llama, output: %s}
                  - inspect: {path: x, colour: blue}
                """.formatted(tmp.resolve("never")));
        Cli c = Cli.run("run", r.toString());
        assertThat(c.code()).isEqualTo(3);
        assertThat(c.errorLine()).startsWith("upcycle: InvalidRecipe : " + r + " step 2 (inspect) key 'colour' : unknown key;")
                .contains("json").contains("path");
        assertThat(tmp.resolve("never")).doesNotExist();
    }

    @Test
    void wrongTypeNamesStepAndKey() throws IOException {
        Path r = recipe("type.yaml", "steps:\n  - synth: {family: llama, output: x, layers: many}\n");
        Cli c = Cli.run("run", r.toString());
        assertThat(c.code()).isEqualTo(3);
        assertThat(c.errorLine()).startsWith("upcycle: InvalidRecipe : " + r + " step 1 (synth) key 'layers' : ")
                .contains("many");
    }

    @Test
    void missingRequiredOptionIsNamed() throws IOException {
        Path r = recipe("missing.yaml", "steps:\n  - synth: {family: llama}\n");
        Cli c = Cli.run("run", r.toString());
        assertThat(c.code()).isEqualTo(3);
        assertThat(c.errorLine()).contains("step 1 (synth)").contains("Missing required").contains("output");
    }

    @Test
    void undefinedVariableIsNamed() throws IOException {
        Path r = recipe("var.yaml", "steps:\n  - inspect: {path: \"${nope}/x\"}\n");
        Cli c = Cli.run("run", r.toString());
        assertThat(c.code()).isEqualTo(3);
        assertThat(c.errorLine()).isEqualTo("upcycle: InvalidRecipe : " + r
                + " step 1 (inspect) key 'path' : undefined variable ${nope} (define it under 'vars' or pass --set nope=VALUE)");
    }

    @Test
    void unknownCommandTopLevelKeyAndBadYamlAreRejected() throws IOException {
        Cli cmd = Cli.run("run", recipe("cmd.yaml", "steps:\n  - frobnicate: {}\n").toString());
        assertThat(cmd.code()).isEqualTo(3);
        assertThat(cmd.errorLine()).contains("step 1 (frobnicate)").contains("unknown command 'frobnicate'");
        Cli top = Cli.run("run", recipe("top.yaml", "stpes: []\n").toString());
        assertThat(top.errorLine()).contains("key 'stpes'").contains("unknown top-level key");
        Cli yaml = Cli.run("run", recipe("yaml.yaml", "steps: [ {inspect: \n").toString());
        assertThat(yaml.code()).isEqualTo(3);
        assertThat(yaml.errorLine()).startsWith("upcycle: InvalidRecipe : ").contains("not valid YAML");
        Cli recursion = Cli.run("run", recipe("rec.yaml", "steps:\n  - run: {recipe: rec.yaml}\n").toString());
        assertThat(recursion.errorLine()).contains("unknown command 'run'");
        Cli nested = Cli.run("run", recipe("nested.yaml", "steps:\n  - inspect: {path: {a: 1}}\n").toString());
        assertThat(nested.errorLine()).contains("key 'path'").contains("not a map");
    }

    @Test
    void aliasBombIsRefused() throws IOException {
        StringBuilder y = new StringBuilder("description:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        char prev = 'a';
        for (char c = 'b'; c <= 'k'; c++) {
            y.append("  ").append(c).append(": &").append(c).append(" [");
            for (int i = 0; i < 10; i++) {
                y.append(i == 0 ? "" : ", ").append('*').append(prev);
            }
            y.append("]\n");
            prev = c;
        }
        y.append("steps:\n  - inspect: {path: x}\n");
        Cli c = Cli.run("run", recipe("bomb.yaml", y.toString()).toString());
        assertThat(c.code()).isEqualTo(3);
        assertThat(c.errorLine()).startsWith("upcycle: InvalidRecipe : ").contains(" line 2 : YAML anchors and aliases");
    }

    @Test
    void failureStopsUnlessContinueOnErrorAndWorstExitCodeWins() throws IOException {
        Path good = tmp.resolve("good");
        assertThat(Cli.run("synth", "--family", "llama", "-o", good.toString()).code()).isZero();
        Path r = recipe("mixed.yaml", """
                steps:
                  - inspect: {path: %s}
                  - synth: {family: llama, output: %s}
                  - inspect: {path: %s}
                """.formatted(tmp.resolve("missing"), good, good));
        Cli stop = Cli.run("run", r.toString(), "--json");
        assertThat(stop.code()).isEqualTo(3);
        JsonNode doc = JSON.readTree(stop.out());
        assertThat(doc.path("steps").findValuesAsText("status")).containsExactly("failed", "skipped", "skipped");

        Cli go = Cli.run("run", r.toString(), "--json", "--continue-on-error");
        JsonNode all = JSON.readTree(go.out());
        // inspect of a missing path: 3; synth onto an existing output: 4; inspect ok: 0 -> worst is 4
        assertThat(all.path("steps").findValuesAsText("status")).containsExactly("failed", "failed", "ok");
        assertThat(all.path("steps").get(1).path("exit_code").asInt()).isEqualTo(4);
        assertThat(go.code()).isEqualTo(4);
        assertThat(all.path("exit_code").asInt()).isEqualTo(4);
        assertThat(all.path("ok").asBoolean()).isFalse();
        // Figures are numbers, not formatted text.
        assertThat(all.path("steps").get(2).path("figures").path("problems").isNumber()).isTrue();
        assertThat(all.path("steps").get(2).path("figures").path("problems").asLong()).isZero();
    }

    @Test
    void severalRecipesRunInOneCall() throws IOException {
        Path a = recipe("a.yaml", "name: first\nsteps:\n  - synth: {family: llama, output: %s}\n".formatted(tmp.resolve("a")));
        Path b = recipe("b.yaml", "name: second\nsteps:\n  - synth: {family: qwen3, output: %s}\n".formatted(tmp.resolve("b")));
        Cli c = Cli.run("run", a.toString(), b.toString(), "--json");
        assertThat(c.code()).as(c.err()).isZero();
        JsonNode doc = JSON.readTree(c.out());
        assertThat(doc.path("steps").findValuesAsText("recipe")).containsExactly("first", "second");
        assertThat(tmp.resolve("b/config.json")).exists();
    }
}
