package dev.upcycle.faults;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGINT and SIGTERM sent to real child JVMs of every long-running command, at several moments:
 * during JVM and libtorch start-up, mid-write, mid-step, between recipe steps. Each run exits 130
 * (SIGINT) or 143 (SIGTERM) with exactly one error line ({@code upcycle: Interrupted : ...}) once
 * its command had started (a signal before the JVM reached main ends it as the JVM's own, with the
 * same code and nothing touched yet), leaves no lock file, no staging directory and no JVM crash
 * log in its working directory, and a stopped train can be resumed from its last checkpoint.
 */
class SignalTrialsTest {
    @TempDir
    static Path tmp;
    static Path dense;
    static Path big;
    static Path data;
    static int trials;

    @BeforeAll
    static void fixtures() throws IOException {
        dense = tmp.resolve("dense");
        assertThat(run("synth", "--family", "llama", "--layers", "2", "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "64", "--vocab", "256", "-o", dense.toString(), "-q")).isZero();
        // Large enough that writing its 8-expert conversion takes a while: a signal lands mid-write.
        big = tmp.resolve("big");
        assertThat(run("synth", "--family", "llama", "--layers", "4", "--hidden", "256", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "1024", "--vocab", "1024", "-o", big.toString(), "-q")).isZero();
        data = Files.writeString(tmp.resolve("train.txt"),
                Files.readString(Paths.get("test-fixtures/corpus/train.txt")).substring(0, 40_000));
    }

    private static int run(String... args) {
        return Cli.run(args).code();
    }

    /** When to send the signal. */
    private record Trigger(String what, boolean commandStarted, BooleanSupplier ready) {
        static Trigger after(double seconds, Child c) {
            return new Trigger(seconds + " s after start", false, () -> c.secondsSinceStart() >= seconds);
        }

        static Trigger cpu(double seconds, Child c) {
            return new Trigger(seconds + " s of CPU", true, () -> c.cpuSeconds() >= seconds);
        }
    }

    private static Trigger exists(Path parent, String prefix) {
        return new Trigger(prefix + "* exists", true, () -> list(parent).stream().anyMatch(n -> n.startsWith(prefix)));
    }

    private static List<String> list(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        } catch (IOException e) {
            return List.of(); // changing under our feet; look again
        }
    }

    /**
     * Starts {@code args} in a fresh working directory, waits for the trigger, sends {@code signal},
     * and checks the common promises; returns the result for command-specific checks.
     */
    private static Child.Result trial(String signal, java.util.function.Function<Child, Trigger> when, Path outParent,
                                      String... args) throws Exception {
        Path cwd = Files.createDirectories(tmp.resolve("cwd-" + trials++));
        Child c = Child.start(cwd, args);
        Trigger t = when.apply(c);
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!t.ready().getAsBoolean()) {
            assertThat(c.alive()).as("%s ended before the trigger (%s)", args[0], t.what()).isTrue();
            assertThat(System.nanoTime()).as("trigger %s never came", t.what()).isLessThan(deadline);
            Thread.sleep(5);
        }
        c.signal(signal);
        Child.Result r = c.await(60);
        String label = args[0] + " " + signal + " when " + t.what() + ": " + r.text();
        assertThat(r.code()).as(label).isEqualTo(signal.equals("INT") ? 130 : 143);
        List<String> lines = r.errorLines();
        if (t.commandStarted() || !lines.isEmpty()) {
            assertThat(lines).as(label).hasSize(1);
            assertThat(lines.get(0)).as(label).startsWith("upcycle: Interrupted : ").contains("SIG" + signal);
        }
        assertThat(list(cwd)).as("%s: nothing (no hs_err_pid*.log) in the working directory", label).isEmpty();
        assertThat(list(outParent)).as("%s: no lock or staging left", label)
                .noneMatch(n -> n.contains(".upcycle-lock") || n.contains(".upcycle-tmp-") || n.contains(".upcycle-new-")
                        || n.contains(".upcycle-old-"));
        System.out.printf("signal trial: %s %s when %s -> exit %d, %s%n", args[0], signal, t.what(), r.code(),
                lines.isEmpty() ? "(before main)" : lines.get(0));
        return r;
    }

    private static String[] convertArgs(Path out) {
        return new String[] {"convert", big.toString(), "-o", out.toString(), "--experts", "8", "--top-k", "2",
            "--routing", "topk-softmax", "-q"};
    }

    @Test
    void convertStopsCleanlyAndWritesNothing() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("convert"));
        Path out = parent.resolve("moe");
        String staging = ".moe.upcycle-tmp-";
        trial("INT", c -> exists(parent, staging), parent, convertArgs(out));
        assertThat(out).doesNotExist();
        trial("TERM", c -> exists(parent, staging), parent, convertArgs(out));
        assertThat(out).doesNotExist();
        Child.Result early = trial("INT", c -> Trigger.after(0.3, c), parent, convertArgs(out));
        assertThat(out).doesNotExist();
        if (!early.errorLines().isEmpty()) {
            assertThat(early.errorLines().get(0)).contains(": convert : stopped by SIGINT; ");
        }
        // Replacing an earlier output: the signal leaves that output as it was.
        assertThat(run(convertArgs(out))).isZero();
        List<String> args = new ArrayList<>(List.of(convertArgs(out)));
        args.add("--force");
        Child.Result replacing = trial("TERM", c -> exists(parent, staging), parent, args.toArray(String[]::new));
        assertThat(replacing.errorLines().get(0)).contains("removed the staging of " + out + ", which is left as it was");
        assertThat(run("verify", out.toString())).isZero();
        // verify reads only: stopped while it hashes and runs both models.
        Child.Result verify = trial("INT", c -> Trigger.cpu(1.5, c), parent,
                "verify", out.toString(), "--against", big.toString(), "--tokens", "4000");
        assertThat(verify.errorLines().get(0)).contains(": verify : stopped by SIGINT; nothing written");
        assertThat(run("verify", out.toString())).isZero();
    }

    private static String[] trainArgs(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", dense.toString(), "--data", data.toString(), "--bytes",
                "-o", out.toString(), "--steps", "3000", "--batch", "2", "--seq-len", "32", "--save-every", "3",
                "--eval-every", "0", "-q"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void trainStopsAtAStepAndKeepsItsLastCheckpointResumable() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("train"));
        Path out = parent.resolve("run");
        Path checkpoints = out.resolve("checkpoints");
        // During start-up: the JVM, then libtorch loading (the lock is taken just before the engine starts).
        trial("INT", c -> Trigger.after(0.8, c), parent, trainArgs(out));
        assertThat(out).doesNotExist();
        Child.Result loading = trial("TERM", c -> exists(parent, ".run.upcycle-lock"), parent, trainArgs(out));
        assertThat(loading.errorLines().get(0)).contains(": train : stopped by SIGTERM; ");
        assertThat(out).doesNotExist();
        // Mid-run, after some checkpoints.
        Child.Result mid = trial("INT", c -> exists(checkpoints, "step-6"), parent, trainArgs(out));
        assertThat(mid.errorLines().get(0)).contains(": train : stopped by SIGINT; ")
                .contains("last complete checkpoint step-").contains("resume with --resume " + checkpoints);
        String resumeFrom = mid.errorLines().get(0).replaceAll(".*resume with --resume ", "");
        assertThat(run("verify", resumeFrom)).isZero();
        Child.Result again = trial("TERM", c -> exists(checkpoints, "step-12"), parent,
                trainArgs(out, "--resume", resumeFrom));
        String last = again.errorLines().get(0).replaceAll(".*resume with --resume ", "");
        // The last checkpoint resumes: finish a short run from it.
        String[] finish = trainArgs(out, "--resume", last);
        int stepsAt = List.of(finish).indexOf("--steps") + 1;
        finish[stepsAt] = Integer.toString(Integer.parseInt(Paths.get(last).getFileName().toString().substring(5)) + 3);
        Cli finished = Cli.run(finish);
        assertThat(finished.code()).as(finished.err()).isZero();
        assertThat(run("verify", out.toString())).isZero();
    }

    @Test
    void evalSampleSynthAndRunStopCleanly() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("other"));
        Path bigData = Files.writeString(tmp.resolve("eval.txt"), Files.readString(data).repeat(32));
        // eval and sample write nothing: a signal after the engine started stops them mid-work.
        Child.Result eval = trial("INT", c -> Trigger.cpu(2.5, c), parent,
                "eval", dense.toString(), "--data", bigData.toString(), "--bytes", "--seq-len", "32");
        trial("TERM", c -> Trigger.cpu(1.5, c), parent,
                "eval", dense.toString(), "--data", bigData.toString(), "--bytes", "--seq-len", "32");
        trial("INT", c -> Trigger.cpu(2.5, c), parent,
                "sample", dense.toString(), "--prompt", "The ", "--tokens", "4000", "--bytes", "--ignore-eos");
        // synth into a large output: mid-write.
        Path synthOut = parent.resolve("synth");
        trial("TERM", c -> exists(parent, ".synth.upcycle-tmp-"), parent, "synth", "--family", "llama",
                "--layers", "8", "--hidden", "512", "--intermediate", "2048", "--vocab", "8192", "-o",
                synthOut.toString(), "-q");
        assertThat(synthOut).doesNotExist();
        // run: a recipe stopped inside its train step.
        Path work = parent.resolve("work");
        Path recipe = Files.writeString(tmp.resolve("recipe.yaml"), String.join("\n",
                "name: stopped",
                "steps:",
                "  - convert: {inputs: [\"" + dense + "\"], output: \"" + work.resolve("moe") + "\", experts: 4,",
                "              top-k: 2, routing: topk-softmax, force: true}",
                "  - train: {dir: \"" + work.resolve("moe") + "\", data: \"" + data + "\", bytes: true, output: \""
                        + work.resolve("trained") + "\",",
                "            steps: 3000, batch: 2, seq-len: 32, save-every: 3, eval-every: 0, force: true}",
                "  - eval: {dir: \"" + work.resolve("trained") + "\", data: \"" + data + "\", bytes: true}", ""));
        Child.Result recipeRun = trial("INT", c -> exists(work.resolve("trained").resolve("checkpoints"), "step-3"),
                work, "run", recipe.toString());
        assertThat(recipeRun.errorLines().get(0)).contains(": train : stopped by SIGINT; ");
        assertThat(recipeRun.text()).contains("skipped");
        assertThat(eval.errorLines().get(0)).contains(": eval : stopped by SIGINT; nothing written");
    }
}
