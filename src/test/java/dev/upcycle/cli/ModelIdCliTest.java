package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.HubFixture;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model ids ({@code ORG/NAME[@REVISION]}) wherever a command takes a model directory, resolved
 * offline from the cache the real process environment names: child JVMs, so the variables are
 * read exactly as a user's shell sets them.
 */
class ModelIdCliTest {
    @TempDir
    Path tmp;

    private record Child(int code, String out) {
    }

    /** {@code upcycle args...} in a child JVM, in {@code cwd}, with {@code env} on top of a scrubbed environment. */
    private Child upcycle(Path cwd, Path home, Map<String, String> env, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-Duser.home=" + home,
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true);
        for (String v : List.of("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")) {
            pb.environment().remove(v);
        }
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Child(p.exitValue(), out);
    }

    private Path synth(String name, int layers, int seed) {
        Path out = tmp.resolve(name);
        Cli r = Cli.run("synth", "--family", "llama", "--layers", String.valueOf(layers), "--hidden", "32", "--heads",
                "4", "--kv-heads", "2", "--intermediate", "48", "--vocab", "256", "--seed", String.valueOf(seed),
                "-o", out.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    /** A recipe passes ids to every command that takes a model: convert (two seeds), verify --against, eval, sample, train --compute-of. */
    @Test
    void everyModelArgumentOfEveryCommandTakesAnIdThroughARecipe() throws Exception {
        Path cache = tmp.resolve("hub");
        HubFixture.snapshot(cache, "org/tiny", synth("tiny", 2, 1));
        HubFixture.snapshot(cache, "org/tiny", "v2", HubFixture.commit("v2"), synth("tiny-v2", 2, 2));
        Path work = Files.createDirectories(tmp.resolve("work"));
        Files.writeString(work.resolve("data.txt"), "Once upon a time there was a tiny model. ".repeat(30));
        Path recipe = Files.writeString(work.resolve("ids.yaml"), String.join("\n",
                "name: ids",
                "steps:",
                "  - inspect: {path: org/tiny}",
                "  - convert: {inputs: [org/tiny], output: moe, experts: 4, top-k: 2, routing: topk-softmax}",
                "  - verify:  {dir: moe, against: org/tiny}",
                "  - convert: {inputs: [org/tiny, \"org/tiny@v2\"], output: btx, top-k: 1, routing: topk-softmax}",
                "  - eval:    {dir: \"org/tiny@v2\", data: data.txt, bytes: true, seq-len: 32}",
                "  - sample:  {dir: \"org/tiny@" + HubFixture.commit("v2") + "\", prompt: \"Once\", tokens: 3, bytes: true}",
                "  - train:   {dir: org/tiny, data: data.txt, bytes: true, output: run, steps: 1, batch: 1, seq-len: 16,",
                "              save-every: 0, compute-of: \"org/tiny@v2\"}",
                ""));
        Child c = upcycle(work, tmp.resolve("no-home"), Map.of("HF_HUB_CACHE", cache.toString()), "run", recipe.toString());
        assertThat(c.code()).as(c.out()).isZero();
        assertThat(c.out()).doesNotContain("failed");
        assertThat(work.resolve("moe/upcycle.json")).isRegularFile();
        assertThat(work.resolve("btx/upcycle.json")).isRegularFile();
        assertThat(work.resolve("run/upcycle.json")).isRegularFile();
    }

    @Test
    void aMissingIdNamesThePlacesSearchedAndTheDefaultCacheIsUnderHome() throws Exception {
        Path hfHome = tmp.resolve("hf-home");
        Child missing = upcycle(tmp, tmp, Map.of("HF_HOME", hfHome.toString()), "inspect", "org/absent@v1");
        assertThat(missing.code()).as(missing.out()).isEqualTo(3);
        List<String> lines = missing.out().lines().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("upcycle: NoCheckpoint : org/absent@v1 : no local path org/absent@v1, nor "
                + hfHome.resolve("hub").resolve("models--org--absent")).contains("$HF_HOME/hub");
        assertThat(lines.get(1)).contains("never downloads").contains("huggingface-cli download org/absent --revision v1");

        Path home = tmp.resolve("home");
        HubFixture.snapshot(home.resolve(".cache/huggingface/hub"), "org/tiny", synth("tiny", 2, 1));
        Child found = upcycle(tmp, home, Map.of(), "inspect", "org/tiny", "--json");
        assertThat(found.code()).as(found.out()).isZero();
        assertThat(found.out()).contains("\"num_hidden_layers\": 2");
    }

    @Test
    void aLocalDirectoryShadowsAnIdOfTheSameName() throws Exception {
        Path cache = tmp.resolve("hub");
        HubFixture.snapshot(cache, "org/tiny", synth("tiny", 2, 1));
        Path cwd = Files.createDirectories(tmp.resolve("cwd"));
        Files.move(synth("local", 3, 1), Files.createDirectories(cwd.resolve("org")).resolve("tiny"));
        Child c = upcycle(cwd, tmp, Map.of("HF_HUB_CACHE", cache.toString()), "inspect", "org/tiny", "--json");
        assertThat(c.code()).as(c.out()).isZero();
        assertThat(c.out()).contains("\"num_hidden_layers\": 3");
    }
}
