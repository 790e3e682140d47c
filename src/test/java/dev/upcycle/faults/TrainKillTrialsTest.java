package dev.upcycle.faults;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.cli.Main;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, faults mid-run, for train: a training run is SIGKILLed at random points 20 times. After
 * every kill each checkpoint that exists passes verify (checkpoints are complete or absent), the
 * final model, if its upcycle.json exists, passes verify too, and afterwards a run resumed from
 * the newest surviving checkpoint completes.
 */
class TrainKillTrialsTest {
    private static final int TRIALS = 20;

    @TempDir
    static Path tmp;
    static Path model;
    static Path data;

    @BeforeAll
    static void fixtures() throws IOException {
        model = tmp.resolve("dense");
        assertThat(run("synth", "--family", "llama", "--layers", "2", "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "64", "--vocab", "256", "-o", model.toString(), "-q")).isZero();
        data = Files.writeString(tmp.resolve("train.txt"),
                Files.readString(Paths.get("test-fixtures/corpus/train.txt")).substring(0, 40_000));
    }

    private static int run(String... args) {
        return Cli.run(args).code();
    }

    private static String[] trainArgs(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", model.toString(), "--data", data.toString(), "--bytes",
                "-o", out.toString(), "--steps", "24", "--batch", "2", "--seq-len", "32", "--save-every", "3",
                "--eval-every", "0", "-q"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    private static Process child(String... args) throws IOException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Thread drain = new Thread(() -> {
            try {
                p.getInputStream().transferTo(OutputStream.nullOutputStream());
            } catch (IOException ignored) {
                // the process was killed
            }
        });
        drain.setDaemon(true);
        drain.start();
        return p;
    }

    private static List<Path> checkpoints(Path out) throws IOException {
        Path dir = out.resolve("checkpoints");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d+"))
                    .sorted((a, b) -> Integer.compare(step(a), step(b))).toList();
        }
    }

    private static int step(Path checkpoint) {
        return Integer.parseInt(checkpoint.getFileName().toString().substring(5));
    }

    @Test
    void killedTrainingKeepsEveryCheckpointIntactAndResumes() throws Exception {
        Path out = tmp.resolve("run");
        long start = System.nanoTime();
        Process full = child(trainArgs(out, "--force"));
        assertThat(full.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(full.exitValue()).isZero();
        long fullMillis = (System.nanoTime() - start) / 1_000_000;

        Random random = new Random(7);
        int checkpointsChecked = 0;
        int finalModels = 0;
        for (int trial = 0; trial < TRIALS; trial++) {
            Process p = child(trainArgs(out, "--force"));
            Thread.sleep((long) (random.nextDouble() * fullMillis * 1.1));
            p.destroyForcibly(); // SIGKILL
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            for (Path c : checkpoints(out)) {
                assertThat(run("verify", c.toString())).as("trial %d: %s", trial, c).isZero();
                checkpointsChecked++;
            }
            if (Files.exists(out.resolve("upcycle.json"))) {
                assertThat(run("verify", out.toString())).as("trial %d: final model", trial).isZero();
                finalModels++;
            }
        }
        System.out.printf("train kill trials: %d, checkpoints verified %d, final models verified %d, broken 0%n",
                TRIALS, checkpointsChecked, finalModels);

        // Resume from the newest checkpoint that survived, or start again, and finish.
        List<Path> left = checkpoints(out);
        Cli resumed = left.isEmpty() ? Cli.run(trainArgs(out, "--force"))
                : Cli.run(trainArgs(out, "--resume", left.get(left.size() - 1).toString()));
        assertThat(resumed.code()).as("resume from %s: %s", left, resumed.err()).isZero();
        assertThat(run("verify", out.toString())).isZero();
    }

    @Test
    void aRunKilledAfterItsLastCheckpointIsFinishedByResumingIt() throws Exception {
        Path out = tmp.resolve("last");
        assertThat(run(trainArgs(out, "--force"))).isZero();
        // As if killed after checkpoints/step-24 but before the final model was complete.
        Files.delete(out.resolve("upcycle.json"));
        Cli resumed = Cli.run(trainArgs(out, "--resume", out.resolve("checkpoints/step-24").toString()));
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(run("verify", out.toString())).isZero();
        // A checkpoint beyond --steps is refused, naming the step.
        String[] fewer = trainArgs(out, "--resume", out.resolve("checkpoints/step-24").toString());
        fewer[java.util.Arrays.asList(fewer).indexOf("--steps") + 1] = "12";
        Cli refused = Cli.run(fewer);
        assertThat(refused.code()).isEqualTo(3);
        assertThat(refused.err()).contains("the checkpoint is at step 24, beyond --steps 12");
    }

    @Test
    void aFullDiskEndsTrainingWithExit4AndNoStagingLeft() throws Exception {
        Path dir = tmp.resolve("tmpfs-full");
        KillTrialsTest.Result r = KillTrialsTest.inTmpfs("size=48k", dir, trainArgs(dir.resolve("run")));
        assertThat(r.code()).as(r.text()).isEqualTo(4);
        assertThat(r.errorLine()).startsWith("upcycle: IoError : ").contains("No space left on device");
        // No checkpoint was written, so nothing can be resumed: the failed run removes the run directory
        // it made (issue 14), and no staging directory may remain.
        String tree = r.text().lines().filter(l -> l.startsWith("TREE: ")).findFirst().orElseThrow();
        assertThat(tree).doesNotContain(".upcycle-").doesNotContain("train-config.json");
    }
}
