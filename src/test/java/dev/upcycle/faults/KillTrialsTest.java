package dev.upcycle.faults;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.cli.Main;
import dev.upcycle.io.OutputLock;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
 * Issue 9, faults mid-run: convert is killed with SIGKILL at random points, 20 times, writing
 * over its own previous output with --force. After every kill the output directory is either
 * absent or complete (verify passes, and upcycle.json matches every file), and a final normal
 * run succeeds and leaves no staging or moved-aside directories behind. A size-limited file
 * (RLIMIT_FSIZE), a full tmpfs and a read-only tmpfs end with exit 4 and no temporary files.
 */
class KillTrialsTest {
    private static final int TRIALS = 20;

    @TempDir
    static Path tmp;
    static Path dense;

    @BeforeAll
    static void synth() {
        dense = tmp.resolve("dense");
        assertThat(run("synth", "--family", "llama", "--layers", "4", "--hidden", "128", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "512", "--vocab", "1024", "-o", dense.toString(), "-q"))
                .isZero();
    }

    private static int run(String... args) {
        return Cli.run(args).code();
    }

    /** A convert's exit code and output, run in its own JVM as the killed runs are (not in this test's heap). */
    private record Ran(int code, String output) {
    }

    private static Ran runChild(String... args) throws Exception {
        Process p = child("", args).start();
        String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Ran(p.exitValue(), output);
    }

    private static ProcessBuilder child(String shellPrefix, String... args) {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>();
        String main = "'" + java + "' -Xmx256m -cp '" + System.getProperty("java.class.path") + "' " + Main.class.getName();
        StringBuilder line = new StringBuilder(shellPrefix).append("exec ").append(main);
        for (String a : args) {
            line.append(" '").append(a).append("'");
        }
        cmd.add("bash");
        cmd.add("-c");
        cmd.add(line.toString());
        return new ProcessBuilder(cmd).redirectErrorStream(true);
    }

    private static String[] convertArgs(Path out) {
        return new String[] {"convert", dense.toString(), "-o", out.toString(), "--experts", "8", "--top-k", "2",
            "--routing", "topk-softmax", "--force", "-q"};
    }

    private static List<String> siblings(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void killedConvertNeverLeavesAHalfWrittenOutput() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("kills"));
        Path out = parent.resolve("moe");
        // Time one full run in a child JVM to spread the kill points over its whole length.
        long start = System.nanoTime();
        Process full = child("", convertArgs(out)).start();
        full.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        assertThat(full.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(full.exitValue()).isZero();
        long fullMillis = (System.nanoTime() - start) / 1_000_000;

        Random random = new Random(42);
        int absent = 0;
        int complete = 0;
        int replaced = 0;
        for (int trial = 0; trial < TRIALS; trial++) {
            // Half the trials start from nothing, half replace a complete previous output (--force),
            // where a kill between the two renames of the commit is the dangerous moment.
            boolean replace = trial % 2 == 1;
            if (replace && !Files.exists(out)) {
                Ran again = runChild(convertArgs(out));
                assertThat(again.code()).as("trial %d: convert after a killed run: %s%s", trial, again.output(),
                        siblings(parent)).isZero();
            } else if (!replace && Files.exists(out)) {
                dev.upcycle.io.OutputDirectory.deleteTree(out);
            }
            Process p = child("", convertArgs(out)).start();
            Thread.sleep((long) (random.nextDouble() * fullMillis * 1.2));
            p.destroyForcibly(); // SIGKILL
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            if (Files.exists(out)) {
                assertThat(run("verify", out.toString())).as("trial %d: output present but broken", trial).isZero();
                complete++;
                replaced += replace ? 1 : 0;
            } else {
                absent++;
                if (replace) {
                    // Killed between the commit's renames: the previous output was moved aside, and
                    // the next run must put it back rather than lose it.
                    assertThat(siblings(parent)).anyMatch(n -> n.startsWith(".moe.upcycle-old-"));
                }
            }
            assertThat(siblings(parent)).as("trial %d", trial).allMatch(n -> n.equals("moe") || n.startsWith(".moe."));
        }
        assertThat(absent + complete).isEqualTo(TRIALS);
        System.out.printf("kill trials: %d, output absent %d, complete %d (%d of them replacing an earlier output),"
                + " broken 0%n", TRIALS, absent, complete, replaced);

        // A rerun succeeds and cleans up what the killed runs left (staging dirs, stale lock).
        Ran rerun = runChild(convertArgs(out));
        assertThat(rerun.code()).as(rerun.output()).isZero();
        assertThat(run("verify", out.toString())).isZero();
        assertThat(siblings(parent)).containsExactly("moe");
    }

    @Test
    void aFullDiskEndsWithExit4AndNoTemporaryFiles() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("full"));
        Path out = parent.resolve("moe");
        // RLIMIT_FSIZE of 2000 blocks: writes past ~1 MB fail with EFBIG, as on a full disk.
        Process p = child("ulimit -f 2000; ", convertArgs(out)).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(text).isEqualTo(4);
        assertThat(text.lines().filter(l -> l.startsWith("upcycle: ")).findFirst().orElse(""))
                .startsWith("upcycle: IoError : ").contains("File too large");
        assertThat(siblings(parent)).isEmpty();
    }

    record Result(int code, String text) {
        String errorLine() {
            return text.lines().filter(l -> l.startsWith("upcycle: ")).findFirst().orElse("");
        }
    }

    @Test
    void aFullFileSystemEndsWithExit4AndNothingLeft() throws Exception {
        Result convert = inTmpfsConvert("size=2m", tmp.resolve("tmpfs-full"));
        assertThat(convert.code()).as(convert.text()).isEqualTo(4);
        assertThat(convert.errorLine()).startsWith("upcycle: IoError : ").contains("No space left on device");
        assertThat(convert.text()).contains("LEFT: []");
    }

    @Test
    void aReadOnlyOutputFileSystemEndsWithExit4() throws Exception {
        Result convert = inTmpfsConvert("ro,size=1m", tmp.resolve("tmpfs-ro"));
        assertThat(convert.code()).as(convert.text()).isEqualTo(4);
        assertThat(convert.errorLine()).startsWith("upcycle: IoError : ").contains("Read-only file system");
        assertThat(convert.text()).contains("LEFT: []");
    }

    /**
     * Runs convert into a fresh tmpfs (a real full or read-only file system) mounted in a private
     * user and mount namespace, so nothing needs unmounting, and lists what is left in it from
     * inside the namespace.
     */
    private static Result inTmpfsConvert(String options, Path dir) throws Exception {
        return inTmpfs(options, dir, convertArgs(dir.resolve("out")));
    }

    /** Runs {@code upcycle args...} in a child JVM with {@code dir} a fresh tmpfs of the given options. */
    static Result inTmpfs(String options, Path dir, String... args) throws Exception {
        Files.createDirectories(dir);
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        StringBuilder cmd = new StringBuilder("mount -t tmpfs -o " + options + " tmpfs '" + dir + "' || exit 99; '")
                .append(java).append("' -Xmx256m -cp '").append(System.getProperty("java.class.path")).append("' ")
                .append(Main.class.getName());
        for (String a : args) {
            cmd.append(" '").append(a).append("'");
        }
        cmd.append("; code=$?; echo \"LEFT: [$(ls -A '").append(dir).append("')]\"; ")
                .append("echo \"TREE: [$(find '").append(dir).append("' -mindepth 1 | sort | tr '\\n' ' ')]\"; exit $code");
        Process proc = new ProcessBuilder("unshare", "-rm", "bash", "-c", cmd.toString()).redirectErrorStream(true).start();
        String text = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(proc.waitFor(120, TimeUnit.SECONDS)).isTrue();
        org.junit.jupiter.api.Assumptions.assumeTrue(proc.exitValue() != 99,
                "this machine cannot mount a tmpfs in a user namespace: " + text);
        return new Result(proc.exitValue(), text);
    }

    @Test
    void aSecondWriterOfTheSameOutputIsRefused() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("locked"));
        Path out = parent.resolve("moe");
        // Another run holds the lock: this JVM, through the lock's own API.
        try (OutputLock held = OutputLock.acquire(out)) {
            Cli refused = Cli.run(convertArgs(out));
            assertThat(refused.code()).isEqualTo(4);
            assertThat(refused.err()).startsWith("upcycle: OutputLocked : ").contains("PID " + ProcessHandle.current().pid());
            assertThat(out).doesNotExist();
        }
        assertThat(siblings(parent)).isEmpty();
    }
}
