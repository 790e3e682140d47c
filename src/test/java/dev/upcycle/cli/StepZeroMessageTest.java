package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What convert says about step 0: by default nothing (the default conversion is exact); otherwise one
 * short line before anything is written, with the verdict, the main reason and the options that make
 * it exact, and the full reasons only with -v.
 */
class StepZeroMessageTest {
    @TempDir
    static Path models;
    static Path llama;

    @BeforeAll
    static void synth() {
        llama = models.resolve("llama");
        assertThat(Cli.run("synth", "--family", "llama", "-o", llama.toString(), "-q").code()).isZero();
    }

    private static List<String> warnings(Cli r) {
        return r.err().lines().filter(l -> l.startsWith("upcycle: warning: step 0")).toList();
    }

    @Test
    void theDefaultConversionIsExactAndSaysNothingAboutStepZero(@TempDir Path tmp) {
        Cli r = Cli.run("convert", llama.toString(), "-o", tmp.resolve("out").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(warnings(r)).isEmpty();
        assertThat(r.out()).contains("mixtral E8G1T2").contains("step 0 exact");
    }

    @Test
    void thePapersSettingsGetOneShortLineWithTheReasonAndTheFix(@TempDir Path tmp) {
        Cli r = Cli.run("convert", llama.toString(), "-o", tmp.resolve("out").toString(), "--routing", "softmax-topk",
                "--scaling", "paper");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(warnings(r)).singleElement().satisfies(line -> {
            assertThat(line).startsWith("upcycle: warning: step 0 is approximate: softmax-topk")
                    .contains("between 1 and N/K = 4")
                    .contains("exact with --routing topk-softmax")
                    .contains("-v");
            assertThat(line.length()).isLessThan(300);
        });
        // The long explanation stays behind -v.
        assertThat(r.err()).doesNotContain("sigma_l").doesNotContain("E8G8T8");
    }

    @Test
    void theLineComesBeforeAnythingIsWritten(@TempDir Path tmp) throws IOException {
        // An output the tool did not write stops the conversion before its first byte; the verdict is
        // already out by then.
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("mine.txt"), "not upcycle's");
        Cli r = Cli.run("convert", llama.toString(), "-o", out.toString(), "--routing", "softmax-topk");
        assertThat(r.code()).isEqualTo(4);
        assertThat(warnings(r)).singleElement().asString().contains("step 0 is approximate");
        assertThat(r.err().indexOf("step 0 is approximate")).isLessThan(r.err().indexOf("upcycle: Output"));
    }

    @Test
    void verboseAddsTheFullReasonsWithTheUsersOwnNumbers(@TempDir Path tmp) {
        Cli r = Cli.run("convert", llama.toString(), "-o", tmp.resolve("out").toString(), "--routing", "softmax-topk",
                "--experts", "16", "--top-k", "2", "-v");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(warnings(r)).singleElement().asString().contains("N/K = 8");
        // s = N/K = 8: paper scaling puts 8^(1/3) = 2 inside SiLU; the measured 0.12 covers s <= 4 only.
        assertThat(r.err()).contains("upcycle: step 0 is approximate (")
                .contains("N/K = 8 (N=16, K=2)")
                .contains("s^(1/3) = 2 inside SiLU")
                .contains("c = 2 for s=8")
                .doesNotContain("about 0.12");
    }

    @Test
    void aNonPreservingChoiceNamesTheOptionThatRepairsIt(@TempDir Path tmp) {
        Cli r = Cli.run("convert", llama.toString(), "-o", tmp.resolve("out").toString(), "--experts", "8",
                "--granularity", "2", "--top-k", "3", "--scaling", "exact-balanced");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(warnings(r)).singleElement().asString()
                .contains("step 0 is not function-preserving: top-k K=3 is not a multiple of granularity G=2")
                .contains("exact with --top-k 4");
    }
}
