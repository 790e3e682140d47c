package dev.upcycle.faults;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.cli.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14: failures of the environment, and the engine's own chatter, seen from outside: each
 * runs the CLI in a child JVM, because a file-descriptor limit, DJL's cache directory and
 * libtorch's native stderr are per process.
 */
class EnvironmentFaultsTest {
    static final String MODEL = "test-fixtures/tiny-llama";
    static final String TEXT = "test-fixtures/corpus/valid.txt";

    @TempDir
    Path tmp;

    record Run(int code, String out, String err) {
        String errorLine() {
            return err.lines().filter(l -> l.startsWith("upcycle: ")).findFirst().orElse("");
        }
    }

    /** The CLI in a child JVM, optionally under {@code ulimit -n}, with extra environment variables. */
    private Run child(Integer openFiles, List<String> env, String... args) throws IOException, InterruptedException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", (openFiles == null ? "" : "ulimit -n " + openFiles + " && ")
                + "exec \"$@\"", "child", java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(tmp.resolve("child.out").toFile())
                .redirectError(tmp.resolve("child.err").toFile());
        pb.environment().remove("ENGINE_CACHE_DIR");
        for (String kv : env) {
            int eq = kv.indexOf('=');
            pb.environment().put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child did not finish: " + List.of(args));
        }
        return new Run(p.exitValue(), Files.readString(tmp.resolve("child.out")), Files.readString(tmp.resolve("child.err")));
    }

    /**
     * "Too many open files" while opening shards is the environment's failure (exit 4), as inspect
     * and convert report it, not an invalid header (verify said exit 3).
     */
    @Test
    void verifyReportsTooManyOpenFilesAsAnEnvironmentFailure() throws Exception {
        Path ckpt = manyShards(tmp.resolve("many"), 300);
        Run r = child(64, List.of(), "verify", ckpt.toString());
        assertThat(r.err()).as(r.out()).contains("Too many open files");
        assertThat(r.code()).as(r.err()).isEqualTo(4);
        assertThat(r.errorLine()).startsWith("upcycle: IoError : ");
    }

    /** DJL unpacking libtorch into a cache that cannot be created: exit 4 naming the directory, not 70. */
    @Test
    void anUnusableDjlCacheIsAnEnvironmentFailureNamingTheDirectory() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a directory");
        Path cache = file.resolve("djl-cache");
        Run r = child(null, List.of("DJL_CACHE_DIR=" + cache), "eval", MODEL, "--data", TEXT, "--bytes");
        assertThat(r.code()).as(r.err()).isEqualTo(4);
        assertThat(r.errorLine()).startsWith("upcycle: IoError : " + cache).contains("cannot unpack");
        assertThat(r.err()).contains("set DJL_CACHE_DIR to a writable directory").doesNotContain("InternalError")
                .doesNotContain("\tat ");
    }

    /** libtorch's "AutoNonVariableTypeMode is deprecated" warning was printed by every --resume. */
    @Test
    void resumingPrintsNothingOnStderr() throws Exception {
        Path first = tmp.resolve("first");
        String[] common = {"--data", TEXT, "--batch", "1", "--seq-len", "16", "--save-every", "1", "-q"};
        Run a = child(null, List.of(), concat(new String[] {"train", MODEL, "-o", first.toString(), "--steps", "1"}, common));
        assertThat(a.code()).as(a.err()).isZero();
        Run b = child(null, List.of(), concat(new String[] {"train", MODEL, "-o", tmp.resolve("second").toString(),
            "--steps", "2", "--resume", first.resolve("checkpoints/step-1").toString()}, common));
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.err()).doesNotContain("AutoNonVariableTypeMode").doesNotContain("Warning:")
                .doesNotContainPattern("(?m)^\\[W");
    }

    private static String[] concat(String[] a, String... b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** A valid sharded layout of {@code n} one-tensor shards (the config is never reached). */
    private static Path manyShards(Path dir, int n) throws IOException {
        Files.createDirectories(dir);
        Files.copy(Path.of(MODEL, "config.json"), dir.resolve("config.json"));
        StringBuilder index = new StringBuilder("{\"metadata\": {\"total_size\": " + 4L * n + "}, \"weight_map\": {");
        for (int i = 0; i < n; i++) {
            String shard = String.format("model-%05d-of-%05d.safetensors", i + 1, n);
            String header = "{\"t" + i + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
            byte[] h = header.getBytes(StandardCharsets.UTF_8);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putLong(h.length).put(h);
            Files.write(dir.resolve(shard), b.array());
            index.append(i == 0 ? "" : ",").append("\"t").append(i).append("\": \"").append(shard).append('"');
        }
        Files.writeString(dir.resolve("model.safetensors.index.json"), index.append("}}").toString());
        return dir;
    }
}
