package dev.upcycle.faults;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.OutputLock;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 9, nothing lost: train never writes over the model it reads, and two runs never share an output. */
class TrainOutputSafetyTest {
    @TempDir
    Path tmp;
    Path model;
    Path data;

    @BeforeEach
    void fixtures() throws IOException {
        model = tmp.resolve("model");
        assertThat(Cli.run("synth",
                "--family", "llama", "--hidden", "32", "--intermediate", "64", "-o", model.toString(), "-q").code()).isZero();
        data = Files.writeString(tmp.resolve("train.txt"),
                Files.readString(Paths.get("test-fixtures/corpus/train.txt")).substring(0, 20_000));
    }

    private Result train(Path out) {
        Cli run = Cli.run("train", model.toString(),
                "--data", data.toString(), "--bytes", "-o", out.toString(), "--steps", "2", "--batch", "2",
                "--seq-len", "16", "--save-every", "0", "--force", "-q");
        return new Result(run.code(), run.err());
    }

    private record Result(int code, String err) {
    }

    @Test
    void theModelItselfOrADirectoryInsideItIsNeverTheOutput() throws IOException {
        byte[] weights = Files.readAllBytes(model.resolve("model.safetensors"));
        for (Path out : new Path[] {model, model.resolve("runs/a"), tmp}) {
            Result r = train(out);
            assertThat(r.code()).as(out.toString()).isEqualTo(3);
            assertThat(r.err()).startsWith("upcycle: UnsafeOutput : ");
        }
        assertThat(Files.readAllBytes(model.resolve("model.safetensors"))).isEqualTo(weights);
        assertThat(model.resolve("runs")).doesNotExist();
    }

    /**
     * OUT appears in one rename together with its train-config.json, so a kill cannot leave an OUT
     * that --force refuses as "neither a train run nor an upcycle output" (TrainKillTrialsTest found
     * that window); what a killed run was still staging is a hidden sibling, removed by the next run.
     */
    @Test
    void theRunDirectoryAppearsWithItsConfigAndStagingLeftoversAreRemoved() throws IOException {
        Path out = tmp.resolve("staged");
        Path leftover = tmp.resolve(".staged.upcycle-new-123");
        Files.createDirectories(leftover);
        Files.writeString(leftover.resolve(".train-config.json.tmp"), "{");
        Result r = train(out);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("train-config.json")).isRegularFile();
        assertThat(leftover).doesNotExist();
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".staged.upcycle-"));
        }
        // An empty OUT made by the user is taken over the same way.
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThat(train(empty).code()).isZero();
        assertThat(empty.resolve("train-config.json")).isRegularFile();
    }

    @Test
    void aSecondRunIntoTheSameOutputIsRefused() throws IOException {
        Path out = tmp.resolve("run");
        Path lock = tmp.resolve(".run.upcycle-lock");
        try (OutputLock held = OutputLock.acquire(out)) { // another run holds it
            Result r = train(out);
            assertThat(r.code()).isEqualTo(4);
            assertThat(r.err()).startsWith("upcycle: OutputLocked : ");
            assertThat(out).doesNotExist();
        }
        assertThat(train(out).code()).isZero();
        assertThat(lock).doesNotExist();
    }
}
