package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code upcycle convert} end to end: refusals, dry run, JSON, and a converter killed midway. */
class ConvertCommandTest {
    @TempDir
    static Path models;
    static Path llama;
    static Path qwen3;

    @BeforeAll
    static void synth() {
        llama = models.resolve("llama");
        qwen3 = models.resolve("qwen3");
        assertThat(Cli.run("synth", "--family", "llama", "--intermediate", "96", "-o", llama.toString(), "-q").code()).isZero();
        assertThat(Cli.run("synth", "--family", "qwen3", "--head-dim", "16", "-o", qwen3.toString(), "-q").code()).isZero();
    }

    static Stream<Arguments> impossible() {
        return Stream.of(
                Arguments.of("granularity does not divide F", "llama", List.of("--experts", "10", "--granularity", "5")),
                Arguments.of("experts not a multiple of G", "llama", List.of("--experts", "6", "--granularity", "4")),
                Arguments.of("top-k larger than experts", "llama", List.of("--experts", "4", "--top-k", "5")),
                Arguments.of("llama to qwen3-moe", "llama", List.of("--target", "qwen3-moe")),
                Arguments.of("qwen3 to mixtral", "qwen3", List.of("--target", "mixtral", "--routing", "topk-softmax")),
                Arguments.of("qwen3 to qwen2-moe", "qwen3", List.of("--target", "qwen2-moe")),
                Arguments.of("mixtral with softmax-topk", "llama", List.of("--target", "mixtral", "--routing", "softmax-topk")),
                Arguments.of("mixtral with a layer selection", "llama",
                        List.of("--target", "mixtral", "--routing", "topk-softmax", "--layers", "1")),
                Arguments.of("mixtral with a shared expert", "llama", List.of("--target", "mixtral", "--routing",
                        "topk-softmax", "--shared-experts", "1", "--shared-expert-size", "32")),
                Arguments.of("qwen3-moe with a shared expert", "qwen3",
                        List.of("--shared-experts", "1", "--shared-expert-size", "32")),
                Arguments.of("auto with qwen3 and a shared expert", "qwen3",
                        List.of("--target", "auto", "--shared-experts", "1", "--shared-expert-size", "32")),
                Arguments.of("shared expert as wide as F", "llama",
                        List.of("--shared-experts", "1", "--shared-expert-size", "96")),
                Arguments.of("shared expert leaves an indivisible rest", "llama",
                        List.of("--shared-experts", "1", "--experts", "12", "--granularity", "3",
                                "--top-k", "3", "--shared-expert-size", "31")),
                Arguments.of("layer that does not exist", "llama", List.of("--layers", "0,7")),
                Arguments.of("attention experts to mixtral", "llama",
                        List.of("--attention", "moa-separate", "--target", "mixtral")),
                Arguments.of("seeds of different architecture", "llama", List.of("QWEN3")),
                Arguments.of("two seeds, three attention experts", "llama",
                        List.of("LLAMA2", "--attention", "moa-separate", "--attention-experts", "3")),
                Arguments.of("parallel blocks on a sequential seed", "llama",
                        List.of("--attention", "moa-separate", "--block-layout", "parallel")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impossible")
    void impossibleCombinationsExit3AndWriteNothing(String name, String model, List<String> options, @TempDir Path tmp) {
        Path out = tmp.resolve("out");
        List<String> args = new ArrayList<>(List.of("convert", (model.equals("llama") ? llama : qwen3).toString(),
                "-o", out.toString()));
        for (String o : options) {
            args.add(o.equals("LLAMA2") ? llama.toString() : o.equals("QWEN3") ? qwen3.toString() : o);
        }
        Cli r = Cli.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isEqualTo(3);
        assertThat(r.errorLine()).startsWith("upcycle: ");
        assertThat(out).doesNotExist();
        // The same refusal in a dry run.
        args.add("--dry-run");
        assertThat(Cli.run(args.toArray(String[]::new)).code()).isEqualTo(3);
    }

    /** Issue 7: single-seed MoA is exact at step 0, the plan says so, and verify --against proves it. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"moa-separate", "moa-shared-kv"})
    void attentionExpertsConvertAndVerifyAgainstTheDenseModel(String mode, @TempDir Path tmp) {
        Path out = tmp.resolve("moa");
        Cli r = Cli.run("convert", llama.toString(), "-o", out.toString(), "--attention", mode,
                "--attention-experts", "3", "--experts", "4", "--top-k", "2", "--routing", "topk-softmax",
                "--scaling", "exact-down");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("native", "step 0 exact");
        Cli v = Cli.run("verify", out.toString(), "--against", llama.toString());
        assertThat(v.code()).as(v.out() + v.err()).isZero();
        Cli d = Cli.run("convert", llama.toString(), "--dry-run", "--attention", mode);
        assertThat(d.out()).contains("bam-separate", "bam-shared_kv", "ffn-moe", "dense", "FLOPs/token");
    }

    static Stream<Arguments> invalidBamOptions() {
        return Stream.of(
                Arguments.of(List.of("--block-layout", "diagonal"), "--block-layout"),
                Arguments.of(List.of("--parallel-norms", "3", "--block-layout", "parallel", "--force-parallel"),
                        "--parallel-norms"),
                Arguments.of(List.of("--parallel-norms", "1"), "--parallel-norms"),
                Arguments.of(List.of("--shared-kv-init", "seed:0"), "--shared-kv-init"),
                Arguments.of(List.of("--attention", "moa-separate", "--shared-kv-init", "seed:0"), "--shared-kv-init"),
                Arguments.of(List.of("--attention", "moa-shared-kv", "--shared-kv-init", "first"), "--shared-kv-init"),
                Arguments.of(List.of("--attention", "moa-shared-kv", "--shared-kv-init", "seed:1"), "--shared-kv-init"),
                Arguments.of(List.of("--expert-noise-std", "-0.5"), "--expert-noise-std"));
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("invalidBamOptions")
    void invalidBamOptionsExit2NamingTheOption(List<String> options, String option, @TempDir Path tmp) {
        Path out = tmp.resolve("out");
        List<String> args = new ArrayList<>(List.of("convert", llama.toString(), "-o", out.toString()));
        args.addAll(options);
        Cli r = Cli.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.errorLine()).startsWith("upcycle: InvalidOption : " + option);
        assertThat(out).doesNotExist();
    }

    /**
     * Parallel blocks (docs/attention-experts.md, "Block layouts") end to end: a parallel-block seed
     * from synth, upcycled with parallel blocks, verified against it.
     */
    @Test
    void parallelSeedUpcyclesAndVerifies(@TempDir Path tmp) throws IOException {
        Path seed = tmp.resolve("seed");
        Cli s = Cli.run("synth", "--family", "llama", "--parallel-blocks", "1", "-o", seed.toString());
        assertThat(s.code()).as(s.err()).isZero();
        assertThat(s.out()).contains("upcycle_moa with parallel blocks");
        Path out = tmp.resolve("bam");
        Cli r = Cli.run("convert", seed.toString(), "-o", out.toString(), "--attention", "moa-shared-kv",
                "--experts", "4", "--top-k", "2", "--routing", "topk-softmax", "--scaling", "exact-down");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("native", "step 0 exact");
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("block_layout").asText()).isEqualTo("parallel");
        assertThat(config.get("parallel_num_norms").asInt()).isEqualTo(1);
        Cli v = Cli.run("verify", out.toString(), "--against", seed.toString());
        assertThat(v.code()).as(v.out() + v.err()).isZero();
        Cli q = Cli.run("synth", "--family", "qwen2", "--parallel-blocks", "1", "-o", tmp.resolve("q").toString());
        assertThat(q.code()).isEqualTo(2);
        assertThat(q.errorLine()).contains("--parallel-blocks");
    }

    @Test
    void twoSeedsMergeAsBtxAndBam(@TempDir Path tmp) {
        Cli btx = Cli.run("convert", llama.toString(), llama.toString(), "-o", tmp.resolve("btx").toString());
        assertThat(btx.code()).as(btx.err()).isZero();
        Cli bam = Cli.run("convert", llama.toString(), llama.toString(), "-o", tmp.resolve("bam").toString(),
                "--attention", "moa-shared-kv");
        assertThat(bam.code()).as(bam.err()).isZero();
        assertThat(Cli.run("verify", tmp.resolve("bam").toString()).code()).isZero();
    }

    @Test
    void allowApproximateConvertsWhatTheTargetCannotExpressAndSaysSo(@TempDir Path tmp) {
        Cli r = Cli.run("convert", llama.toString(), "-o", tmp.resolve("out").toString(), "--target", "qwen3-moe",
                "--allow-approximate", "--routing", "topk-softmax");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("step 0 is not function-preserving: the target format cannot reproduce");
        Cli v = Cli.run("convert", llama.toString(), "-o", tmp.resolve("v").toString(), "--target", "qwen3-moe",
                "--allow-approximate", "--routing", "topk-softmax", "-v");
        assertThat(v.code()).as(v.err()).isZero();
        assertThat(v.err()).contains("not function-preserving (", "q and k head");
    }

    @Test
    void knownApproximationsOfTheMethodProceedWithAWarning(@TempDir Path tmp) {
        Cli r = Cli.run("convert", llama.toString(), "-o", tmp.resolve("out").toString(), "--experts", "8",
                "--granularity", "2", "--top-k", "3");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("upcycle: warning: step 0 is not function-preserving", "not a multiple of granularity");
    }

    @Test
    void dryRunPrintsThePlanAndWritesNothing(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        Cli r = Cli.run("convert", llama.toString(), "-o", out.toString(), "--dry-run", "--tensors", "--routing", "topk-softmax",
                "--experts", "4", "--granularity", "2", "--scaling", "exact-down");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("plan: llama -> mixtral", "step 0: exact", "parameters:", "active per token",
                "model.layers.1.block_sparse_moe.experts.3.w2.weight", "cols [48, 96) x 2", "target mixtral (auto)");
        assertThat(out).doesNotExist();

        // The paper's routing: Mixtral cannot express it, so auto goes to qwen2-moe.
        Cli j = Cli.run("convert", llama.toString(), "--dry-run", "--json", "--layers", "every:2", "--router-init", "zero",
                "--routing", "softmax-topk");
        assertThat(j.code()).as(j.err()).isZero();
        JsonNode doc = new ObjectMapper().readTree(j.out());
        assertThat(doc.get("target").asText()).isEqualTo("qwen2-moe");
        assertThat(doc.get("moe_layers").toString()).isEqualTo("[1]");
        assertThat(doc.get("config").get("decoder_sparse_step").asInt()).isEqualTo(2);
        assertThat(doc.get("step0").get("verdict").asText()).isEqualTo("approximate");
        assertThat(doc.get("step0").get("expected_relative_error").asDouble()).isGreaterThan(0);
        assertThat(doc.get("tensors").size()).isGreaterThan(20);
        assertThat(doc.at("/parameters/total").asLong()).isGreaterThan(doc.at("/parameters/active").asLong());
    }

    @Test
    void convertsAndPrintsASummary(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        // A relative input path, as users type it.
        Path relative = Path.of("").toAbsolutePath().relativize(llama);
        Cli r = Cli.run("convert", relative.toString(), "-o", out.toString(), "--routing", "topk-softmax", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).get("target").asText()).isEqualTo("mixtral");
        assertThat(Cli.run("inspect", out.toString()).code()).isZero();
        Cli again = Cli.run("convert", llama.toString(), "-o", out.toString(), "--routing", "topk-softmax");
        assertThat(again.code()).isEqualTo(4);
        assertThat(Cli.run("convert", llama.toString(), "-o", out.toString(), "--routing", "topk-softmax", "--force",
                "-q").code()).isZero();
    }

    @Test
    void helpDocumentsEveryOption() {
        Cli r = Cli.run("convert", "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("--experts", "--top-k", "--granularity", "--routing", "--scaling", "--router-init",
                "--router-std", "--shared-experts", "--shared-expert-size", "--shared-expert-mode", "--layers", "--target",
                "--attention", "--dtype", "--seed", "--max-shard-size", "--dry-run", "--json", "--force",
                "--allow-approximate", "--allow-nonfinite", "Examples:");
    }

    /** Complete or absent under a hard kill: a child JVM killed while writing leaves no output directory. */
    @Test
    void aConverterKilledMidwayLeavesNoOutput(@TempDir Path tmp) throws Exception {
        Path big = tmp.resolve("big");
        assertThat(Cli.run("synth", "--family", "llama", "--layers", "4", "--hidden", "256", "--intermediate", "1024",
                "--heads", "4", "--kv-heads", "2", "-o", big.toString(), "-q").code()).isZero();
        Path out = tmp.resolve("moe");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"),
                "dev.upcycle.cli.Main", "convert", big.toString(), "-o", out.toString(), "--experts", "32", "--top-k", "2",
                "--max-shard-size", "10MB").redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile());
        Process p = pb.start();
        try {
            // Kill once the first shard has been written into the staging directory.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (p.isAlive() && System.nanoTime() < deadline && !stagingHasShard(tmp)) {
                Thread.sleep(5);
            }
            assertThat(p.isAlive()).as("converter finished before it could be killed").isTrue();
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(out).doesNotExist();
        // A rerun cleans up after the dead process (stale lock) and completes.
        Cli r = Cli.run("convert", big.toString(), "-o", out.toString(), "--experts", "2", "--top-k", "1",
                "--routing", "topk-softmax", "-q");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("upcycle.json")).exists();
    }

    private static boolean stagingHasShard(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(f -> f.getFileName().toString().startsWith(".moe.upcycle-tmp-")).toList()) {
                File[] files = p.toFile().listFiles();
                if (files != null && Stream.of(files).anyMatch(f -> f.getName().startsWith("model-"))) {
                    return true;
                }
            }
        }
        return false;
    }
}
