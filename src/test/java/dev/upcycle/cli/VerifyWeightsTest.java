package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.Floats;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code verify --against}'s weight check: a corrupted expert of an exact BF16 conversion fails
 * with the tensor and element named, with and without {@code upcycle.json}; good conversions of
 * every path pass, with the plan recorded or derived from the configs; exact copies are held to
 * f32 arithmetic whatever their dtype; approximate plans are held to their predicted error.
 */
class VerifyWeightsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    // On the old check this passed: the logits moved by 1.2e-3, inside the BF16 default of 1e-2.
    private static final String DOWN = "model.layers.1.block_sparse_moe.experts.3.w2.weight";

    @TempDir
    static Path models;
    static Path dense;
    static Path other;

    @BeforeAll
    static void synth() {
        dense = models.resolve("dense");
        other = models.resolve("other");
        assertThat(Cli.run("synth", "--family", "llama", "--dtype", "bf16", "-o", dense.toString(), "-q").code()).isZero();
        assertThat(Cli.run("synth", "--family", "llama", "--dtype", "bf16", "--seed", "1", "-o", other.toString(), "-q")
                .code()).isZero();
    }

    private static Path convert(Path out, String... options) {
        List<String> args = new ArrayList<>(List.of("convert"));
        args.addAll(List.of(options));
        args.addAll(List.of("-o", out.toString(), "-q"));
        Cli r = Cli.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    private static Path exactCopy(Path tmp) {
        return convert(tmp.resolve("moe"), dense.toString(), "--experts", "4", "--top-k", "2", "--routing", "topk-softmax");
    }

    private static JsonNode verify(int code, String... args) throws IOException {
        List<String> all = new ArrayList<>(List.of("verify"));
        all.addAll(List.of(args));
        all.addAll(List.of("--json", "--tokens", "16"));
        Cli r = Cli.run(all.toArray(String[]::new));
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(code);
        return JSON.readTree(r.out());
    }

    private static JsonNode check(JsonNode report, String name) {
        for (JsonNode c : report.get("checks")) {
            if (c.get("name").asText().equals(name)) {
                return c;
            }
        }
        throw new AssertionError("no check " + name + " in " + report);
    }

    /** Adds {@code delta} to one BF16 element in place: the header stays valid, only the value changes. */
    private static void addToElement(Path file, String tensor, long index, float delta) throws IOException {
        long at;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorHeader h = f.tensor(tensor);
            at = f.dataStart() + h.begin() + 2 * index;
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(at);
            int lo = raf.read();
            int hi = raf.read();
            float v = Floats.bf16ToF32((short) (lo | hi << 8)) + delta;
            short bits = Floats.f32ToBf16(v);
            raf.seek(at);
            raf.write(bits & 0xFF);
            raf.write((bits >> 8) & 0xFF);
        }
    }

    /** Rewrites upcycle.json with the current size and SHA-256 of {@code file}, as a re-saving tool would. */
    private static void fixManifest(Path dir, String file) throws IOException {
        Path manifest = dir.resolve("upcycle.json");
        ObjectNode root = (ObjectNode) JSON.readTree(manifest.toFile());
        FileDigest d = FileDigest.of(dir, dir.resolve(file));
        for (JsonNode o : root.get("outputs")) {
            if (o.get("path").asText().equals(file)) {
                ((ObjectNode) o).put("size", d.size()).put("sha256", d.sha256());
            }
        }
        Files.writeString(manifest, JSON.writeValueAsString(root));
    }

    private static void assertNamesTheCorruptedElement(JsonNode report) {
        JsonNode w = check(report, "weights");
        assertThat(w.get("status").asText()).isEqualTo("fail");
        assertThat(w.get("problems").get(0).asText()).contains(DOWN).contains("element 37");
        JsonNode d = report.get("weights").get("first_difference");
        assertThat(d.get("tensor").asText()).isEqualTo(DOWN);
        assertThat(d.get("index").asLong()).isEqualTo(37);
        assertThat(d.get("actual").asDouble() - d.get("expected").asDouble()).isBetween(0.04, 0.06);
    }

    @Test
    void corruptedExpertWithoutManifestFailsNamingTensorAndElement(@TempDir Path tmp) throws IOException {
        Path m = exactCopy(tmp);
        addToElement(m.resolve("model.safetensors"), DOWN, 37, 0.05f);
        Files.delete(m.resolve("upcycle.json"));
        JsonNode report = verify(1, m.toString(), "--against", dense.toString());
        assertNamesTheCorruptedElement(report);
        assertThat(report.get("weights").get("plan_basis").asText()).contains("config.json");
    }

    @Test
    void corruptedExpertWithARehashedManifestFails(@TempDir Path tmp) throws IOException {
        Path m = exactCopy(tmp);
        addToElement(m.resolve("model.safetensors"), DOWN, 37, 0.05f);
        fixManifest(m, "model.safetensors");
        JsonNode report = verify(1, m.toString(), "--against", dense.toString());
        assertThat(check(report, "manifest").get("status").asText()).isEqualTo("pass");
        assertNamesTheCorruptedElement(report);
        assertThat(report.get("weights").get("plan_basis").asText()).isEqualTo("upcycle.json");
    }

    @Test
    void exactBf16CopiesAreHeldToF32Arithmetic(@TempDir Path tmp) throws IOException {
        Path m = exactCopy(tmp);
        JsonNode report = verify(0, m.toString(), "--against", dense.toString());
        JsonNode f = report.get("functional");
        assertThat(f.get("tolerance").asDouble()).isEqualTo(1e-5);
        assertThat(f.get("tolerance_basis").asText()).contains("f32 arithmetic");
        assertThat(f.get("planned_verdict").asText()).isEqualTo("exact");
        assertThat(report.get("weights").get("weights_unchanged").asBoolean()).isTrue();
        JsonNode unchecked = report.get("weights").get("unchecked");
        assertThat(unchecked).hasSize(2);
        assertThat(unchecked.get(0).get("reason").asText()).contains("router");
    }

    @Test
    void weightsRoundedToBf16AreHeldToTheBf16Default(@TempDir Path tmp) throws IOException {
        Path f32 = tmp.resolve("f32");
        assertThat(Cli.run("synth", "--family", "llama", "-o", f32.toString(), "-q").code()).isZero();
        Path m = convert(tmp.resolve("moe"), f32.toString(), "--experts", "4", "--top-k", "2", "--routing",
                "topk-softmax", "--dtype", "bf16");
        JsonNode report = verify(0, m.toString(), "--against", f32.toString());
        assertThat(check(report, "weights").get("status").asText()).isEqualTo("pass");
        assertThat(report.get("weights").get("weights_unchanged").asBoolean()).isFalse();
        assertThat(report.get("functional").get("tolerance").asDouble()).isEqualTo(1e-2);
        assertThat(report.get("functional").get("tolerance_basis").asText()).isEqualTo("exact plan, default for BF16 weights");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "copy|--experts 4 --top-k 2 --routing topk-softmax",
        "paper scaling|--experts 8 --granularity 2 --top-k 2 --routing topk-softmax --scaling paper",
        "fine-grained|--experts 8 --granularity 2 --top-k 2 --routing topk-softmax --scaling exact-down",
        "shared expert|--target qwen2-moe --shared-experts 1 --shared-expert-size 32 --experts 4 --top-k 2 --routing topk-softmax --scaling exact-down",
        "merge of identical seeds|SEED SEED --experts 3 --top-k 2 --routing topk-softmax",
        "moa native|--attention moa-shared-kv --attention-experts 2 --routing topk-softmax --experts 4 --top-k 2",
    })
    void goodConversionsPassWithAndWithoutManifest(String path, String options, @TempDir Path tmp) throws IOException {
        List<String> args = new ArrayList<>(List.of(dense.toString()));
        for (String o : options.split(" ")) {
            args.add(o.equals("SEED") ? dense.toString() : o);
        }
        Path m = convert(tmp.resolve("moe"), args.toArray(String[]::new));
        JsonNode with = verify(0, m.toString(), "--against", dense.toString());
        assertThat(check(with, "weights").get("status").asText()).as(path).isEqualTo("pass");
        assertThat(with.get("weights").get("plan_basis").asText()).isEqualTo("upcycle.json");
        assertThat(with.get("weights").get("checked_tensors").asInt()).isGreaterThan(10);
        Files.delete(m.resolve("upcycle.json"));
        JsonNode without = verify(0, m.toString(), "--against", dense.toString());
        assertThat(check(without, "weights").get("status").asText()).as(path).isEqualTo("pass");
        assertThat(without.get("weights").get("plan_basis").asText()).contains("config.json");
        assertThat(without.get("weights").get("checked_tensors").asInt())
                .isEqualTo(with.get("weights").get("checked_tensors").asInt());
    }

    @Test
    void aMergeOfDifferentSeedsIsCheckedAgainstEverySeed(@TempDir Path tmp) throws IOException {
        Path m = convert(tmp.resolve("btx"), dense.toString(), other.toString(), "--top-k", "1", "--routing",
                "topk-softmax");
        JsonNode report = verify(0, m.toString(), "--against", dense.toString(), "--against", other.toString());
        assertThat(check(report, "weights").get("status").asText()).isEqualTo("pass");
        // The seeds' mean is no seed: the functional check reports the measurement without a bound.
        assertThat(check(report, "functional").get("status").asText()).isEqualTo("skip");
        assertThat(report.get("functional").get("planned_verdict").asText()).isEqualTo("not preserving");
        // Swapped seeds put every expert in the wrong place.
        JsonNode swapped = verify(1, m.toString(), "--against", other.toString(), "--against", dense.toString());
        assertThat(check(swapped, "weights").get("status").asText()).isEqualTo("fail");
    }

    @Test
    void noisedExpertsAreReportedUnchecked(@TempDir Path tmp) throws IOException {
        Path m = convert(tmp.resolve("noisy"), dense.toString(), "--experts", "4", "--top-k", "2", "--routing",
                "topk-softmax", "--expert-noise-std", "0.001");
        JsonNode report = verify(0, m.toString(), "--against", dense.toString());
        assertThat(check(report, "weights").get("status").asText()).isEqualTo("pass");
        List<String> reasons = new ArrayList<>();
        report.get("weights").get("unchecked").forEach(u -> reasons.add(u.get("reason").asText()));
        assertThat(reasons).hasSize(2 + 2 * 4 * 3);
        assertThat(reasons.stream().filter(r -> r.contains("expert noise")).count()).isEqualTo(24);
    }

    @Test
    void anApproximatePlanWithAPredictionIsHeldToIt(@TempDir Path tmp) throws IOException {
        Path m = convert(tmp.resolve("paper"), dense.toString(), "--experts", "8", "--granularity", "2", "--top-k", "2",
                "--routing", "topk-softmax", "--scaling", "paper");
        JsonNode report = verify(0, m.toString(), "--against", dense.toString());
        JsonNode f = report.get("functional");
        assertThat(f.get("planned_verdict").asText()).isEqualTo("approximate");
        double predicted = f.get("predicted_error").asDouble();
        assertThat(predicted).isPositive();
        assertThat(f.get("tolerance").asDouble()).isEqualTo(2 * predicted + 1e-2);
        assertThat(f.get("measured_error").asDouble()).isPositive().isLessThan(f.get("tolerance").asDouble());
        // --strict holds it to the exact bound of its dtype, which the paper scaling exceeds.
        JsonNode strict = verify(1, m.toString(), "--against", dense.toString(), "--strict");
        assertThat(check(strict, "functional").get("status").asText()).isEqualTo("fail");
    }

    @Test
    void thePaperDefaultsAreReportedNotFailedAndACorruptedExpertStillFails(@TempDir Path tmp) throws IOException {
        // the paper's settings (no longer the default routing): softmax-topk, paper scaling
        Path m = convert(tmp.resolve("defaults"), dense.toString(), "--experts", "4", "--top-k", "2",
                "--routing", "softmax-topk", "--target", "qwen2-moe", "--allow-approximate");
        Cli text = Cli.run("verify", m.toString(), "--against", dense.toString(), "--tokens", "16");
        assertThat(text.code()).as(text.out()).isZero();
        assertThat(text.out()).contains("SKIP  functional  not held to a bound: planned approximate")
                .contains("planned step 0: approximate, predicted error none stated; measured");
        JsonNode strict = verify(1, m.toString(), "--against", dense.toString(), "--strict");
        assertThat(check(strict, "functional").get("status").asText()).isEqualTo("fail");

        addToElement(m.resolve("model.safetensors"), "model.layers.0.mlp.experts.1.down_proj.weight", 5, 0.05f);
        Files.delete(m.resolve("upcycle.json"));
        JsonNode corrupted = verify(1, m.toString(), "--against", dense.toString());
        assertThat(corrupted.get("weights").get("first_difference").get("tensor").asText())
                .isEqualTo("model.layers.0.mlp.experts.1.down_proj.weight");
        assertThat(corrupted.get("weights").get("first_difference").get("index").asLong()).isEqualTo(5);
    }

}
