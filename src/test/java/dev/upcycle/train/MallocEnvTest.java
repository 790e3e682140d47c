package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/malloc-env, which scripts/upcycle and scripts/bench train source: every command preloads
 * jemalloc (never returning freed pages) where the machine has it; without it train keeps glibc's
 * adaptive mmap threshold and every other command gets the 1 MiB threshold; the user's own settings
 * win. UPCYCLE_JEMALLOC stands in for the library's location, so the test does not depend on the
 * machine.
 */
class MallocEnvTest {
    @TempDir
    Path tmp;

    /** LD_PRELOAD, MALLOC_MMAP_THRESHOLD_ and MALLOC_CONF after {@code upcycle_malloc cmd}, joined by '|'. */
    private String env(String cmd, Map<String, String> vars) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c",
                ". scripts/malloc-env; upcycle_malloc " + cmd
                        + "; echo \"${LD_PRELOAD:-}|${MALLOC_MMAP_THRESHOLD_:-}|${MALLOC_CONF:-}\"")
                .redirectError(ProcessBuilder.Redirect.DISCARD); // the loader's complaint about a made-up LD_PRELOAD
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("MALLOC") || k.equals("LD_PRELOAD") || k.startsWith("UPCYCLE_"));
        env.putAll(vars);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void trainPreloadsJemallocThatKeepsItsPages() throws Exception {
        Path lib = Files.writeString(tmp.resolve("libjemalloc.so.2"), "");
        assertThat(env("train", Map.of("UPCYCLE_JEMALLOC", lib.toString())))
                .isEqualTo(lib + "||dirty_decay_ms:-1,muzzy_decay_ms:-1");
        // the user's MALLOC_CONF is kept
        assertThat(env("train", Map.of("UPCYCLE_JEMALLOC", lib.toString(), "MALLOC_CONF", "narenas:2")))
                .isEqualTo(lib + "||narenas:2");
    }

    @Test
    void trainWithoutJemallocKeepsGlibcAdaptiveThreshold() throws Exception {
        assertThat(env("train", Map.of("UPCYCLE_JEMALLOC", tmp.resolve("missing.so").toString()))).isEqualTo("||");
        Path lib = Files.writeString(tmp.resolve("libjemalloc.so.2"), "");
        assertThat(env("train", Map.of("UPCYCLE_JEMALLOC", lib.toString(), "UPCYCLE_MALLOC", "glibc"))).isEqualTo("||");
    }

    @Test
    void everyCommandPreloadsJemallocWhereTheMachineHasIt() throws Exception {
        Path lib = Files.writeString(tmp.resolve("libjemalloc.so.2"), "");
        for (String cmd : new String[] {"sample", "eval", "run", "verify", ""}) {
            assertThat(env(cmd, Map.of("UPCYCLE_JEMALLOC", lib.toString()))).as(cmd)
                    .isEqualTo(lib + "||dirty_decay_ms:-1,muzzy_decay_ms:-1");
        }
    }

    @Test
    void withoutJemallocOtherCommandsGetTheOneMebibyteThreshold() throws Exception {
        for (String cmd : new String[] {"sample", "eval", "run", "convert", ""}) {
            assertThat(env(cmd, Map.of("UPCYCLE_JEMALLOC", tmp.resolve("missing.so").toString()))).as(cmd)
                    .isEqualTo("|1048576|");
        }
        Path lib = Files.writeString(tmp.resolve("libjemalloc.so.2"), "");
        assertThat(env("sample", Map.of("UPCYCLE_JEMALLOC", lib.toString(), "UPCYCLE_MALLOC", "glibc")))
                .isEqualTo("|1048576|");
    }

    @Test
    void theUsersOwnSettingsWin() throws Exception {
        Path lib = Files.writeString(tmp.resolve("libjemalloc.so.2"), "");
        assertThat(env("train", Map.of("UPCYCLE_JEMALLOC", lib.toString(), "LD_PRELOAD", "/opt/my.so")))
                .isEqualTo("/opt/my.so||");
        assertThat(env("train", Map.of("UPCYCLE_JEMALLOC", lib.toString(), "MALLOC_MMAP_THRESHOLD_", "65536")))
                .isEqualTo("|65536|");
        assertThat(env("sample", Map.of("MALLOC_MMAP_THRESHOLD_", "65536"))).isEqualTo("|65536|");
    }
}
