package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/gpu-train's checks before it starts Java: the libtorch it is pointed at must be the
 * version and flavour the bundled JNI was built for. A bundle laid out as scripts/jlink-runtime lays
 * it out, with a java that records its arguments and environment, shows what reaches the JVM.
 * (The whole run through a real jlink'd runtime is measured by hand: docs/training.md.)
 */
class GpuTrainScriptTest {
    @TempDir
    Path tmp;
    Path bundle;
    Path libtorch;

    @BeforeEach
    void bundle() throws IOException {
        bundle = tmp.resolve("bundle");
        Files.createDirectories(bundle.resolve("runtime/bin"));
        Files.copy(Path.of("scripts/gpu-train"), bundle.resolve("gpu-train"));
        Path java = bundle.resolve("runtime/bin/java");
        // records what it was given, then fails the way a missing engine would (exit 4)
        Files.writeString(java, "#!/bin/sh\nenv > \"$0.env\"\necho \"$@\" >> \"$0.args\"\nexit 4\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(bundle.resolve("libtorch.version"), "2.7.1\n");
        Files.writeString(bundle.resolve("jni-flavors"), "cpu\ncu128\n");
        libtorch = Files.createDirectories(tmp.resolve("torch/lib"));
        Files.writeString(libtorch.resolve("libtorch.so"), "");
    }

    private Result run(String version, String flavor) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", bundle.resolve("gpu-train").toString(), "--steps", "2")
                .redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.put("PYTORCH_LIBRARY_PATH", libtorch.toString());
        env.put("PYTORCH_VERSION", version);
        env.put("PYTORCH_FLAVOR", flavor);
        env.put("GPU_TRAIN_WORK", tmp.resolve("work").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), out);
    }

    private record Result(int exit, String output) {
    }

    @Test
    void anotherLibtorchVersionIsRefusedBeforeJavaStarts() throws Exception {
        Result r = run("2.5.1", "cu128");
        assertThat(r.exit()).isEqualTo(3);
        assertThat(r.output()).contains("libtorch 2.5.1 at " + libtorch + ", but the bundled JNI is for libtorch 2.7.1");
        assertThat(bundle.resolve("runtime/bin/java.args")).doesNotExist();
    }

    @Test
    void aFlavourTheJarHasNoJniForIsRefused() throws Exception {
        Result r = run("2.7.1", "cu124");
        assertThat(r.exit()).isEqualTo(3);
        assertThat(r.output()).contains("PYTORCH_FLAVOR=cu124 is not one of the bundled JNI flavours: cpu cu128");
    }

    @Test
    void aDirectoryWithoutLibtorchIsRefused() throws Exception {
        Files.delete(libtorch.resolve("libtorch.so"));
        Result r = run("2.7.1", "cu128");
        assertThat(r.exit()).isEqualTo(3);
        assertThat(r.output()).contains("holds no libtorch.so");
    }

    @Test
    void aMatchingLibtorchReachesTheBundledJavaWithDjlPointedAtIt() throws Exception {
        // pip's layout: site-packages/torch/lib and site-packages/nvidia/cuda_runtime/lib
        Path cudart = Files.createDirectories(tmp.resolve("nvidia/cuda_runtime/lib"));
        Files.writeString(cudart.resolve("libcudart.so.12"), "");
        Result r = run("2.7.1", "cu128");
        // the first call (convert) fails in the recording java: the script stops with its code
        assertThat(r.exit()).isEqualTo(4);
        String env = Files.readString(bundle.resolve("runtime/bin/java.env"));
        assertThat(env).contains("PYTORCH_LIBRARY_PATH=" + libtorch, "PYTORCH_VERSION=2.7.1", "PYTORCH_FLAVOR=cu128",
                "DJL_CACHE_DIR=" + tmp.resolve("work/djl-cache"));
        // DJL finds the GPUs through libcudart, so its directory is on the loader's path
        assertThat(env).containsPattern("(?m)^LD_LIBRARY_PATH=" + java.util.regex.Pattern.quote(cudart.toRealPath().toString()));
        assertThat(Files.readString(bundle.resolve("runtime/bin/java.args")))
                .contains("-jar " + bundle.resolve("upcycle.jar") + " convert " + bundle.resolve("tiny-llama"));
    }
}
