package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sizes a user gives are checked against the model and the memory estimate before anything is
 * loaded or created (2: an option out of range, with its bound; 3: a prompt the model cannot take;
 * 4: does not fit in memory), and an OutOfMemoryError is one line with exit 4, never a trace.
 */
class RuntimeLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TRAIN = "test-fixtures/corpus/train.txt";

    @TempDir
    Path tmp;

    /** A byte-level llama, 2 layers, hidden 32, with {@code max_position_embeddings} set to {@code positions}. */
    private Path model(String name, int positions, String... extra) throws IOException {
        Path out = tmp.resolve(name);
        List<String> args = new java.util.ArrayList<>(List.of("synth", "--family", "llama", "-o", out.toString(),
                "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--intermediate", "48", "--seed", "1", "-q"));
        args.addAll(List.of(extra));
        Cli r = Cli.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        ObjectNode config = (ObjectNode) JSON.readTree(out.resolve("config.json").toFile());
        config.put("max_position_embeddings", positions);
        JSON.writeValue(out.resolve("config.json").toFile(), config);
        return out;
    }

    private static void assertError(Cli r, int code, String kind, String... words) {
        assertThat(r.code()).as(r.err()).isEqualTo(code);
        assertThat(r.errorLine()).startsWith("upcycle: " + kind + " : ").contains(words);
        assertThat(r.err()).doesNotContain("\tat ", "Exception");
    }

    @Test
    void sampleTokensBeyondTheContextAreAnOptionOutOfRange() throws IOException {
        Path m = model("m", 4096);
        assertError(Cli.run("sample", m.toString(), "--prompt", "Hi", "--tokens", "2147483647"), 2, "InvalidOption",
                "--tokens", "at most 4095");
        // the prompt's 10 tokens and 10 new ones in a context of 16
        Path small = model("small", 16);
        assertError(Cli.run("sample", small.toString(), "--prompt", "0123456789", "--tokens", "10"), 2,
                "InvalidOption", "--tokens", "at most 6");
    }

    @Test
    void aPromptLongerThanTheContextIsAnInputThatDoesNotFit() throws IOException {
        Path m = model("m", 16);
        Cli r = Cli.run("sample", m.toString(), "--prompt", "x".repeat(40), "--tokens", "1");
        assertError(r, 3, "ImpossibleCombination", "--prompt", "40 tokens", "max_position_embeddings 16");
    }

    @Test
    void aSampleWhoseKvCacheCannotFitIsRefusedBeforeLoading() throws IOException {
        Path m = model("m", 1 << 30);
        // 2 layers · (K, V) · 2 kv heads · 8 = 64 floats a position: 10^9 positions need 256 GB of cache
        Cli r = Cli.run("sample", m.toString(), "--prompt", "Hi", "--tokens", "1000000000");
        assertError(r, 4, "OutOfMemory", "needs about", "KV cache", "available");
        assertThat(r.err()).contains("lower --tokens");
    }

    @Test
    void trainSizesOutOfRangeAreUsageErrorsWithTheirBound() throws IOException {
        Path m = model("m", 64);
        Path out = tmp.resolve("out");
        assertError(Cli.run("train", m.toString(), "--data", TRAIN, "-o", out.toString(), "--seq-len", "2147483647"),
                2, "InvalidOption", "--seq-len", "1048576");
        assertError(Cli.run("train", m.toString(), "--data", TRAIN, "-o", out.toString(), "--batch", "2147483647"),
                2, "InvalidOption", "--batch", "at most 1048576");
        assertError(Cli.run("train", m.toString(), "--data", TRAIN, "-o", out.toString(), "--seq-len", "16",
                "--accumulate", "2147483647"), 2, "InvalidOption", "--accumulate", "at most");
        assertError(Cli.run("train", m.toString(), "--data", TRAIN, "-o", out.toString(), "--seq-len", "65"), 2,
                "InvalidOption", "--seq-len", "max_position_embeddings 64");
        assertThat(out).doesNotExist();
    }

    /** A 100,000-token micro-batch of a 151,936-token vocabulary: its logits alone are 61 GB. */
    @Test
    void aBatchThatCannotFitIsRefusedBeforeAnythingIsCreated() throws IOException {
        Path m = model("wide", 4096, "--vocab", "151936", "--tie-embeddings");
        Path out = tmp.resolve("out");
        Cli r = Cli.run("train", m.toString(), "--data", TRAIN, "-o", out.toString(), "--batch", "200", "--seq-len",
                "500");
        assertError(r, 4, "OutOfMemory", "needs about", "gradients and optimizer", "activations", "available");
        assertThat(r.err()).contains("lower --batch or --seq-len");
        // accumulation runs micro-batches one after another: the same tokens per step in 2 halves still do not fit
        assertError(Cli.run("train", m.toString(), "--data", TRAIN, "-o", out.toString(), "--batch", "100",
                "--seq-len", "500", "--accumulate", "2"), 4, "OutOfMemory", "needs about");
        assertThat(out).doesNotExist();
    }

    /** Only a child JVM can run out of memory safely: 1 MiB of direct memory, and 40 MB of data on a 64 MB heap. */
    @Test
    void outOfMemoryErrorsAreOneLineWithTheJvmOption() throws Exception {
        Path bf16 = model("bf16", 4096, "--dtype", "bf16");
        Child direct = child(List.of("-Xmx256m", "-XX:MaxDirectMemorySize=1m"), "sample", bf16.toString(), "--prompt",
                "Hi", "--tokens", "2");
        assertThat(direct.code()).as(direct.output()).isEqualTo(4);
        assertThat(direct.lines()).as(direct.output()).hasSize(2);
        assertThat(direct.lines().get(0)).startsWith("upcycle: OutOfMemory : upcycle sample : ")
                .contains("direct buffer memory");
        assertThat(direct.lines().get(1)).contains("UPCYCLE_JAVA_OPTS=-XX:MaxDirectMemorySize=");

        Path data = tmp.resolve("big.txt");
        Files.writeString(data, "abcdefghij".repeat(4_000_000), StandardCharsets.UTF_8);
        Child heap = child(List.of("-Xmx64m"), "train", model("m", 4096).toString(), "--data", data.toString(), "-o",
                tmp.resolve("heap-out").toString(), "--steps", "1", "--batch", "1", "--seq-len", "8");
        assertThat(heap.code()).as(heap.output()).isEqualTo(4);
        assertThat(heap.lines()).as(heap.output()).hasSize(2);
        assertThat(heap.lines().get(0)).startsWith("upcycle: OutOfMemory : upcycle train : ").contains("Java heap");
        assertThat(heap.lines().get(1)).contains("UPCYCLE_JAVA_OPTS=-Xmx");
    }

    private record Child(int code, String output) {
        /** Output lines other than the JVM's and the engine's own warnings. */
        List<String> lines() {
            return output.lines().filter(l -> !l.isBlank() && !l.contains("WARN") && !l.startsWith("OpenJDK"))
                    .toList();
        }
    }

    private Child child(List<String> jvm, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.upcycle.cli.Main"));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(tmp, "child", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child did not finish: " + Files.readString(log));
        }
        return new Child(p.exitValue(), Files.readString(log));
    }
}
