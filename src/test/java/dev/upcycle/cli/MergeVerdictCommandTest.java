package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The verdict of a merge is computed from the seeds' bytes: identical seeds are one dense function
 * copied into every expert (exact with topk-softmax), different seeds match no seed.
 */
class MergeVerdictCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path models;
    static Path seed;
    static Path copy;
    static Path other;

    @BeforeAll
    static void synth() throws IOException {
        seed = models.resolve("f");
        other = models.resolve("g");
        copy = models.resolve("f-copy");
        assertThat(Cli.run("synth", "--family", "llama", "-o", seed.toString(), "-q").code()).isZero();
        assertThat(Cli.run("synth", "--family", "llama", "--seed", "1", "-o", other.toString(), "-q").code()).isZero();
        copyTree(seed, copy);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    @Test
    void theSameSeedThreeTimesIsExactInTheDryRunAndInUpcycleJson(@TempDir Path tmp) throws IOException {
        Cli d = Cli.run("convert", seed.toString(), seed.toString(), seed.toString(), "--dry-run", "--experts", "3",
                "--top-k", "2", "--routing", "topk-softmax");
        assertThat(d.code()).as(d.err()).isZero();
        assertThat(d.out()).contains("step 0: exact", "byte-identical").doesNotContain("matches no seed");

        Path out = tmp.resolve("moe");
        Cli r = Cli.run("convert", seed.toString(), seed.toString(), seed.toString(), "-o", out.toString(),
                "--experts", "3", "--top-k", "2", "--routing", "topk-softmax", "-q");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("step 0 is");
        JsonNode step0 = JSON.readTree(out.resolve("upcycle.json").toFile()).get("plan").get("step0");
        assertThat(step0.get("verdict").asText()).isEqualTo("exact");
        assertThat(step0.get("reasons").get(0).asText()).contains("All 3 seeds have byte-identical tensors");
        assertThat(step0.get("expected_relative_error").asDouble()).isZero();
        // The claim, measured through the runtime.
        Cli v = Cli.run("verify", out.toString(), "--against", seed.toString());
        assertThat(v.code()).as(v.out() + v.err()).isZero();
    }

    @Test
    void aByteIdenticalCopyInAnotherDirectoryIsComparedAndExact() throws IOException {
        Cli d = Cli.run("convert", seed.toString(), copy.toString(), "--dry-run", "--json", "--experts", "2",
                "--top-k", "2", "--routing", "topk-softmax");
        assertThat(d.code()).as(d.err()).isZero();
        assertThat(JSON.readTree(d.out()).get("step0").get("verdict").asText()).isEqualTo("exact");
    }

    @Test
    void identicalSeedsWithSoftmaxTopkLoseTheUnselectedMass() throws IOException {
        Cli d = Cli.run("convert", seed.toString(), seed.toString(), "--dry-run", "--json", "--experts", "4",
                "--top-k", "2", "--router-init", "zero", "--routing", "softmax-topk");
        assertThat(d.code()).as(d.err()).isZero();
        JsonNode step0 = JSON.readTree(d.out()).get("step0");
        assertThat(step0.get("verdict").asText()).isEqualTo("not function-preserving");
        assertThat(step0.get("expected_relative_error").asDouble()).isEqualTo(0.5);
        assertThat(step0.get("reasons").get(0).asText()).contains("unscaled", "--routing topk-softmax");
    }

    @Test
    void differentSeedsMatchNoSeed(@TempDir Path tmp) throws IOException {
        Cli d = Cli.run("convert", seed.toString(), other.toString(), "--dry-run", "--experts", "2",
                "--top-k", "2", "--routing", "topk-softmax");
        assertThat(d.code()).as(d.err()).isZero();
        assertThat(d.out()).contains("step 0: not function-preserving", "matches no seed");

        Path out = tmp.resolve("btx");
        Cli r = Cli.run("convert", seed.toString(), other.toString(), "-o", out.toString(), "--experts", "2",
                "--top-k", "2", "--routing", "topk-softmax", "-q");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode step0 = JSON.readTree(out.resolve("upcycle.json").toFile()).get("plan").get("step0");
        assertThat(step0.get("verdict").asText()).isEqualTo("not function-preserving");
        assertThat(step0.get("reasons").get(0).asText()).contains("matches no seed");
    }
}
