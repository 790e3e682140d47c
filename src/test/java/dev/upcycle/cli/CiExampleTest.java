package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CI example script gates on verify's exit code: a good checkpoint passes, a corrupted shard fails. */
class CiExampleTest {
    private static final Path SCRIPT = Paths.get("examples/ci/check-checkpoints.sh").toAbsolutePath();

    @TempDir
    Path tmp;
    Path launcher;

    @BeforeEach
    void launcher() throws IOException {
        // The script runs whatever $UPCYCLE names; point it at this test's classpath instead of the jar.
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        launcher = tmp.resolve("upcycle");
        Files.writeString(launcher, "#!/bin/sh\nexec '" + java + "' -Xmx256m -cp '" + System.getProperty("java.class.path")
                + "' dev.upcycle.cli.Main \"$@\"\n", StandardCharsets.UTF_8);
        assertThat(launcher.toFile().setExecutable(true)).isTrue();
    }

    private Result runScript(Path... dirs) throws IOException, InterruptedException {
        List<String> cmd = Stream.concat(Stream.of("bash", SCRIPT.toString()), Stream.of(dirs).map(Path::toString))
                .collect(Collectors.toList());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("UPCYCLE", launcher.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }

    private record Result(int code, String out) {
    }

    @Test
    void goodCheckpointsPassAndACorruptedShardFails() throws Exception {
        Path good = tmp.resolve("good");
        Path bad = tmp.resolve("bad");
        assertThat(Cli.run("synth", "--family", "llama", "-o", good.toString(), "--max-shard-size", "100KB").code()).isZero();
        assertThat(Cli.run("synth", "--family", "llama", "-o", bad.toString(), "--max-shard-size", "100KB").code()).isZero();

        Result ok = runScript(good);
        assertThat(ok.code()).as(ok.out()).isZero();
        assertThat(ok.out()).contains("ok      " + good);

        // Flip one byte in the data of the second shard: sizes and headers stay valid, the SHA-256 does not.
        Path shard = bad.resolve("model-00002-of-00005.safetensors");
        assertThat(shard).exists();
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
            long pos = f.length() - 10;
            f.seek(pos);
            int b = f.read();
            f.seek(pos);
            f.write(b ^ 0x01);
        }
        Result failed = runScript(good, bad);
        assertThat(failed.code()).as(failed.out()).isEqualTo(1);
        assertThat(failed.out()).contains("ok      " + good).contains("FAILED  " + bad + " (exit 1)")
                .contains("model-00002-of-00005.safetensors");
    }

    @Test
    void aMissingDirectoryFailsWithTheInputExitCode() throws Exception {
        Result r = runScript(tmp.resolve("absent"));
        assertThat(r.code()).as(r.out()).isEqualTo(3);
        assertThat(r.out()).contains("FAILED").contains("upcycle: ");
    }
}
