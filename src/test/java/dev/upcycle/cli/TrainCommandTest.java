package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code upcycle train} end to end on tiny models (each run takes seconds). */
class TrainCommandTest {
    static final Path FIXTURE = Path.of("test-fixtures/tiny-llama");
    static final String TRAIN = "test-fixtures/corpus/train.txt";
    static final String VALID = "test-fixtures/corpus/valid.txt";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** A random byte-level llama like the one synth makes (the shipped fixture is pre-trained). */
    private Path randomLlama() {
        Path dir = tmp.resolve("random");
        Cli r = Cli.run("synth", "--family", "llama", "--layers", "2", "--hidden", "64", "--heads", "4", "--kv-heads",
                "2", "--intermediate", "128", "--vocab", "256", "--seed", "0", "-o", dir.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return dir;
    }

    @Test
    void lossDecreasesAndTheOutputIsAModelThatInspectAndEvalAccept() throws IOException {
        Path out = tmp.resolve("out");
        Cli r = Cli.run("train", randomLlama().toString(), "--data", TRAIN, "--eval-data", VALID, "--eval-tokens",
                "4096", "-o", out.toString(), "--steps", "30", "--batch", "4", "--seq-len", "64", "--lr", "3e-3",
                "--warmup", "3", "--save-every", "0");
        assertThat(r.code()).as(r.err()).isZero();
        List<JsonNode> steps = steps(out);
        assertThat(steps).hasSize(30);
        double first = mean(steps.subList(0, 5));
        double last = mean(steps.subList(25, 30));
        assertThat(last).as("loss %f -> %f", first, last).isLessThan(first - 1.0);
        assertThat(steps.get(0).get("lr").asDouble()).isEqualTo(1e-3);
        for (String f : List.of("config.json", "model.safetensors", "upcycle.json", "train-config.json", "loss.png",
                "metrics.jsonl")) {
            assertThat(out.resolve(f)).exists();
        }
        assertThat(ImageIO.read(out.resolve("loss.png").toFile())).isNotNull();
        // A dense model routes nothing: no expert-load plot rather than an empty one.
        assertThat(out.resolve("expert-load.png")).doesNotExist();
        Cli inspect = Cli.run("inspect", out.toString());
        assertThat(inspect.code()).as(inspect.err()).isZero();
        assertThat(inspect.out()).containsPattern("problems\\s+none");
        Cli verify = Cli.run("verify", out.toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        Cli eval = Cli.run("eval", out.toString(), "--data", VALID, "--max-tokens", "2048", "--json");
        assertThat(eval.code()).as(eval.err()).isZero();
        assertThat(JSON.readTree(eval.out()).get("loss").asDouble()).isLessThan(first);
    }

    @Test
    void resumeFromACheckpointReproducesTheUninterruptedRunBitForBit() throws IOException {
        Path model = randomLlama();
        Path whole = tmp.resolve("whole");
        String[] common = {"--data", TRAIN, "--steps", "8", "--batch", "2", "--seq-len", "32", "--warmup", "2",
            "--save-every", "4", "--seed", "3", "-q"};
        assertThat(train(model, whole, common).code()).isZero();
        Path step4 = whole.resolve("checkpoints/step-4");
        assertThat(step4.resolve("optimizer.safetensors")).exists();
        assertThat(step4.resolve("trainer-state.json")).exists();
        Path resumed = tmp.resolve("resumed");
        Cli r = train(model, resumed, concat(common, "--resume", step4.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        List<JsonNode> a = steps(whole);
        List<JsonNode> b = steps(resumed);
        assertThat(b).hasSize(8);
        for (int i = 0; i < 8; i++) {
            for (String k : List.of("step", "lr", "loss", "grad_norm")) {
                assertThat(Double.doubleToRawLongBits(b.get(i).get(k).asDouble()))
                        .as("%s at line %d", k, i).isEqualTo(Double.doubleToRawLongBits(a.get(i).get(k).asDouble()));
            }
        }
        assertThat(Files.readAllBytes(resumed.resolve("model.safetensors")))
                .isEqualTo(Files.readAllBytes(whole.resolve("model.safetensors")));
    }

    @Test
    void bf16ModelsStayBf16AndResumeBitForBitFromMasterWeights() throws IOException {
        Path model = tmp.resolve("bf16");
        assertThat(Cli.run("synth", "--family", "qwen2", "--layers", "1", "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "64", "--vocab", "256", "--dtype", "bf16", "-o", model.toString(),
                "-q").code()).isZero();
        String[] common = {"--data", TRAIN, "--steps", "4", "--batch", "2", "--seq-len", "16", "--save-every", "2",
            "-q"};
        Path whole = tmp.resolve("whole");
        assertThat(train(model, whole, common).code()).isZero();
        try (dev.upcycle.io.Checkpoint c = dev.upcycle.io.Checkpoint.open(whole)) {
            assertThat(c.tensors().values()).allMatch(t -> t.header().dtype() == dev.upcycle.io.DType.BF16);
        }
        try (dev.upcycle.io.SafetensorsFile f = dev.upcycle.io.SafetensorsFile.open(
                whole.resolve("checkpoints/step-2/optimizer.safetensors"))) {
            assertThat(f.tensors()).anyMatch(t -> t.name().startsWith("w."));
            assertThat(f.metadata()).containsEntry("step", "2");
        }
        Path resumed = tmp.resolve("resumed");
        Cli r = train(model, resumed, concat(common, "--resume", whole.resolve("checkpoints/step-2").toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readAllBytes(resumed.resolve("model.safetensors")))
                .isEqualTo(Files.readAllBytes(whole.resolve("model.safetensors")));
        assertThat(steps(resumed).get(3).get("loss").asDouble()).isEqualTo(steps(whole).get(3).get("loss").asDouble());
    }

    @Test
    void nonFiniteLossStopsWithAClearErrorAndKeepsTheLastCheckpoint() throws IOException {
        Path out = tmp.resolve("out");
        Cli r = train(randomLlama(), out, new String[] {"--data", TRAIN, "--steps", "20", "--batch", "2", "--seq-len",
            "16", "--lr", "1e30", "--min-lr", "0", "--warmup", "0", "--grad-clip", "0", "--save-every", "1", "-q"});
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.errorLine()).contains("NonFiniteLoss").contains("stopped before the update");
        assertThat(r.err()).contains("last good checkpoint");
        List<Path> checkpoints;
        try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
            checkpoints = s.sorted().toList();
        }
        assertThat(checkpoints).isNotEmpty().allMatch(p -> p.getFileName().toString().startsWith("step-"));
        Path last = checkpoints.get(checkpoints.size() - 1);
        assertThat(r.err()).contains(last.getFileName().toString());
        Cli verify = Cli.run("verify", last.toString());
        assertThat(verify.code()).as(verify.out()).isZero();
        assertThat(out.resolve("upcycle.json")).doesNotExist();
    }

    /** Issue 14: a run that fails on its data leaves no OUT, so the rerun needs no --force. */
    @Test
    void failingOnItsDataLeavesNoOutputAndTheRerunNeedsNoForce() throws IOException {
        Path out = tmp.resolve("out");
        Path tooShort = Files.writeString(tmp.resolve("short.txt"), "0123456789");
        String[] options = {"--steps", "1", "--batch", "1", "--seq-len", "16", "--save-every", "0", "-q"};
        Cli bad = train(FIXTURE, out, concat(options, "--data", tooShort.toString()));
        assertThat(bad.code()).as(bad.err()).isEqualTo(3);
        assertThat(bad.errorLine()).startsWith("upcycle: InvalidData : " + tooShort + " : 10 tokens;");
        assertThat(out).doesNotExist();
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".out"));
        }
        Cli good = train(FIXTURE, out, concat(options, "--data", TRAIN));
        assertThat(good.code()).as(good.err()).isZero();
        assertThat(out.resolve("upcycle.json")).exists();
    }

    /** Issue 14: a run that fails before its first checkpoint removes the directory it made. */
    @Test
    void aRunThatFailsBeforeItsFirstCheckpointRemovesItsOutput() {
        Path out = tmp.resolve("out");
        Cli r = train(randomLlama(), out, new String[] {"--data", TRAIN, "--steps", "20", "--batch", "2", "--seq-len",
            "16", "--lr", "1e30", "--min-lr", "0", "--warmup", "0", "--grad-clip", "0", "--save-every", "0", "-q"});
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(r.errorLine()).contains("NonFiniteLoss");
        assertThat(out).doesNotExist();
    }

    @Test
    void moeTrainingRunsAndPlotsTheExpertLoad() throws IOException {
        Path moe = TinyModels.upcycle(FIXTURE, tmp.resolve("moe"), "mixtral", 8, 2, -1);
        Path out = tmp.resolve("out");
        Cli r = train(moe, out, new String[] {"--data", TRAIN, "--steps", "4", "--batch", "2", "--seq-len", "32",
            "--z-loss", "1e-3", "--save-every", "0", "--json"});
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode summary = JSON.readTree(r.out());
        assertThat(summary.get("steps").asInt()).isEqualTo(4);
        JsonNode step = steps(out).get(3);
        assertThat(step.get("aux").asDouble()).isGreaterThan(0);
        assertThat(step.get("z").asDouble()).isGreaterThan(0);
        assertThat(step.get("expert_load").size()).isEqualTo(2);
        assertThat(step.get("expert_load").get("0").size()).isEqualTo(8);
        assertThat(ImageIO.read(out.resolve("expert-load.png").toFile())).isNotNull();
        Cli inspect = Cli.run("inspect", out.toString());
        assertThat(inspect.out()).containsPattern("problems\\s+none");
    }

    @Test
    void aRecipeTrainsTwoRunsAndReportsThem() throws IOException {
        Path model = randomLlama();
        Path recipe = tmp.resolve("r.yaml");
        String train = "{dir: %s, data: %s, eval-data: %s, eval-tokens: 512, output: %s, steps: 3, batch: 2, "
                + "seq-len: 16, save-every: 0, seed: %d}";
        Files.writeString(recipe, String.join("\n", "name: two-runs", "steps:",
                "  - train: " + String.format(train, model, TRAIN, VALID, tmp.resolve("a"), 0),
                "  - train: " + String.format(train, model, TRAIN, VALID, tmp.resolve("b"), 1),
                "  - report: {runs: [" + tmp.resolve("a") + ", " + tmp.resolve("b") + "], output: "
                        + tmp.resolve("report/report.md") + "}", ""));
        Cli r = Cli.run("run", recipe.toString());
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("tok/s");
        String md = Files.readString(tmp.resolve("report/report.md"));
        assertThat(md).contains("| parameters | active | FLOPs/token | train FLOPs |");
        assertThat(md).contains("| train loss (last 10 steps) |").contains(tmp.resolve("a").toString())
                .contains("](../a/loss.png)").contains("](../b/loss.png)").doesNotContain("expert-load.png");
        assertThat(md.lines().filter(l -> l.startsWith("| /")).count()).isEqualTo(2);
    }

    /**
     * Compute-matched training (docs/attention-experts.md, "BAM's comparisons"): --compute-of trains round(steps x F(reference) / F(model)) steps, F the forward
     * FLOPs per token (docs/attention-experts.md, "Parameters, active parameters and FLOPs") at the run's sequence length.
     */
    @Test
    void computeOfMatchesTheTrainingComputeOfAnotherModel() throws IOException {
        Path dense = randomLlama();
        Path moa = tmp.resolve("moa");
        Cli c = Cli.run("convert", dense.toString(), "-o", moa.toString(), "--attention", "moa-separate",
                "--attention-experts", "4", "--experts", "4", "--top-k", "1", "--routing", "topk-softmax", "-q");
        assertThat(c.code()).as(c.err()).isZero();
        Cli r = Cli.run("train", moa.toString(), "--data", TRAIN, "-o", tmp.resolve("cm").toString(), "--steps", "30",
                "--batch", "2", "--seq-len", "32", "--compute-of", dense.toString(), "--save-every", "0", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        var a = dev.upcycle.moe.MoaAccounting.of(
                dev.upcycle.model.ModelConfig.read(dense.resolve("config.json"), dev.upcycle.model.FamilyRegistry.builtIn()));
        double ratio = (double) a.dense(32).flopsPerToken()
                / a.bam(dev.upcycle.model.MoaConfig.Variant.SEPARATE, 4, 4, 4, 1, 32).flopsPerToken();
        int want = (int) Math.round(30 * ratio);
        assertThat(want).isBetween(5, 25);
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out()).path("steps").asInt())
                .isEqualTo(want);
        Cli missing = Cli.run("train", moa.toString(), "--data", TRAIN, "-o", tmp.resolve("x").toString(),
                "--compute-of", tmp.resolve("nowhere").toString());
        assertThat(missing.code()).isEqualTo(3);
        assertThat(missing.errorLine()).contains("NoCheckpoint").contains("--compute-of has no config.json");
    }

    /**
     * Attention experts from a windowed Qwen3 seed train like any other: every expert's own q and k
     * norms are parameters of the run and move, and the result passes inspect and verify.
     */
    @Test
    void qwen3AttentionExpertsTrainTheirOwnNorms() throws IOException {
        Path dense = tmp.resolve("qwen3");
        assertThat(Cli.run("synth", "--family", "qwen3", "--layers", "2", "--hidden", "32", "--heads", "4",
                "--kv-heads", "2", "--intermediate", "64", "--vocab", "256", "--sliding-window", "8", "-o",
                dense.toString(), "-q").code()).isZero();
        Path moa = tmp.resolve("moa");
        Cli c = Cli.run("convert", dense.toString(), "-o", moa.toString(), "--attention", "moa-separate",
                "--attention-experts", "2", "--experts", "2", "--top-k", "1", "--routing", "topk-softmax", "-q");
        assertThat(c.code()).as(c.err()).isZero();
        Path out = tmp.resolve("trained");
        Cli r = train(moa, out, new String[] {"--data", TRAIN, "--steps", "3", "--batch", "2", "--seq-len", "16",
            "--lr", "1e-2", "--warmup", "0", "--save-every", "0", "-q"});
        assertThat(r.code()).as(r.err()).isZero();
        try (dev.upcycle.io.Checkpoint before = dev.upcycle.io.Checkpoint.open(moa);
             dev.upcycle.io.Checkpoint after = dev.upcycle.io.Checkpoint.open(out)) {
            for (String norm : List.of("q_norm", "k_norm")) {
                for (int e = 0; e < 2; e++) {
                    String name = "model.layers.1.self_attn.experts." + e + "." + norm + ".weight";
                    assertThat(after.tensor(name).file().readFloats(name)).as(name)
                            .isNotEqualTo(before.tensor(name).file().readFloats(name));
                }
            }
        }
        assertThat(Cli.run("inspect", out.toString()).out()).containsPattern("problems\\s+none");
        Cli verify = Cli.run("verify", out.toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
    }

    @Test
    void badOptionsAreUsageErrors() {
        Cli r = Cli.run("train", FIXTURE.toString(), "--data", TRAIN, "-o", tmp.resolve("x").toString(), "--schedule",
                "linear");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).contains("--schedule");
        r = Cli.run("train", FIXTURE.toString(), "--data", TRAIN, "-o", tmp.resolve("x").toString(), "--warmup", "500",
                "--steps", "10");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).contains("--warmup");
    }

    private static Cli train(Path model, Path out, String[] options) {
        return Cli.run(concat(new String[] {"train", model.toString(), "-o", out.toString()}, options));
    }

    private static String[] concat(String[] a, String... b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static List<JsonNode> steps(Path run) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.has("loss")) {
                out.add(n);
            }
        }
        return out;
    }

    private static double mean(List<JsonNode> steps) {
        return steps.stream().mapToDouble(n -> n.get("loss").asDouble()).average().orElseThrow();
    }
}
