package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.error.Cancellation;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a stop request becomes the exit code and the one line, in-process (the real signals are in
 * faults.SignalTrialsTest): a request that a command meets at a safe point, one that came after
 * the last safe point, and one between the steps of a recipe.
 */
class InterruptTest {
    @TempDir
    Path tmp;

    @AfterEach
    void forget() {
        Cancellation.reset();
    }

    private Path dense() {
        Path dense = tmp.resolve("dense");
        assertThat(Cli.run("synth", "--family", "llama", "-o", dense.toString(), "-q").code()).isZero();
        return dense;
    }

    private static long entries(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void aCommandStoppedAtASafePointExits130WithOneLineAndWritesNothing() throws IOException {
        Path dense = dense();
        Path parent = Files.createDirectories(tmp.resolve("out"));
        Cancellation.request(Cancellation.Signal.SIGINT);
        Cli r = Cli.run("convert", dense.toString(), "-o", parent.resolve("moe").toString(), "-q");
        assertThat(r.code()).isEqualTo(130);
        // The output's staging exists from the start (the input scan runs while the weights are
        // written), so the line says it was removed.
        assertThat(r.err()).isEqualTo("upcycle: Interrupted : convert : stopped by SIGINT; removed the staging of "
                + parent.resolve("moe") + ", nothing written\n");
        assertThat(entries(parent)).isZero();
    }

    @Test
    void aSignalAfterTheLastSafePointStillExits143AndSaysTheOutputIsComplete() {
        Path dense = dense();
        Cancellation.request(Cancellation.Signal.SIGTERM);
        Cli r = Cli.run("inspect", dense.toString());
        assertThat(r.code()).isEqualTo(143);
        assertThat(r.err()).isEqualTo("upcycle: Interrupted : inspect : SIGTERM came after the work was done; "
                + "its output is complete and kept\n");
    }

    @Test
    void aRecipeStoppedBetweenStepsSaysWhichRan() throws IOException {
        Path dense = dense();
        Path recipe = Files.writeString(tmp.resolve("r.yaml"), "name: r\nsteps:\n  - inspect: {path: \"" + dense
                + "\"}\n");
        Cancellation.request(Cancellation.Signal.SIGINT);
        Cli r = Cli.run("run", recipe.toString());
        assertThat(r.code()).isEqualTo(130);
        assertThat(r.err()).isEqualTo("upcycle: Interrupted : run : stopped by SIGINT; 0 step(s) completed; "
                + "stopped before r step 1 (inspect)\n");
    }
}
