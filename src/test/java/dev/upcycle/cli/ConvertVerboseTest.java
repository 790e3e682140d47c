package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --verbose adds phase timings and the planner's choices on stderr; without it they stay hidden. */
class ConvertVerboseTest {
    @TempDir
    Path tmp;

    @Test
    void verboseShowsPhasesAndChoices() {
        Path dense = tmp.resolve("dense");
        assertThat(Cli.run("synth", "--family", "llama", "-o", dense.toString(), "-q").code()).isZero();
        Cli quiet = Cli.run("convert", dense.toString(), "-o", tmp.resolve("a").toString(), "--routing", "topk-softmax");
        assertThat(quiet.code()).isZero();
        assertThat(quiet.err()).doesNotContain("timing:").doesNotContain("choice:");
        Cli loud = Cli.run("convert", dense.toString(), "-o", tmp.resolve("b").toString(), "--routing", "topk-softmax",
                "--verbose");
        assertThat(loud.code()).isZero();
        assertThat(loud.err()).contains("upcycle: timing: weights written and fsynced")
                .contains("upcycle: choice: target mixtral");
        assertThat(loud.out()).startsWith("wrote ");
    }
}
