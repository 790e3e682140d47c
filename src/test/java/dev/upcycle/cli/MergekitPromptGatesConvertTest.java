package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert --config} end to end with the real prompt gates ({@code PromptGates}, no fake):
 * the rows the CLI writes are the runtime's, at the right place, and step 0 stays exact where the
 * configuration says so. Tiny byte-level models, so prompts go in as bytes.
 */
class MergekitPromptGatesConvertTest {
    private static final int HIDDEN = 32;

    private static Path byteModel(Path dir, String family, long seed) {
        return TinyModels.dense(dir, family, DType.F32, seed, b -> b.vocabSize(256));
    }

    private static Path convert(Path file, Path out) {
        Cli r = Cli.run("convert", "--config", file.toString(), "-o", out.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    private static float[] tensor(Path out, String name) {
        try (Checkpoint o = Checkpoint.open(out)) {
            return o.tensor(name).file().readFloats(name);
        }
    }

    private static float[] row(float[] gate, int expert) {
        return Arrays.copyOfRange(gate, expert * HIDDEN, (expert + 1) * HIDDEN);
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    private static String mixtralGate(int layer) {
        return "model.layers." + layer + ".block_sparse_moe.gate.weight";
    }

    @Test
    void allBaseHiddenConfigIsExactAtStepZeroAndVerifiesAgainstTheBase(@TempDir Path tmp) throws Exception {
        Path base = byteModel(tmp.resolve("base"), "llama", 21);
        Path file = tmp.resolve("moe.yml");
        Files.writeString(file, """
                base_model: base
                gate_mode: hidden
                experts_per_token: 2
                experts:
                  - {source_model: base, positive_prompts: ["def main():", "import os"], negative_prompts: ["Once"]}
                  - {source_model: base, positive_prompts: ["Once upon a time"]}
                  - {source_model: base, positive_prompts: ["2 + 2 ="]}
                """);
        Path out = tmp.resolve("out");
        Cli r = Cli.run("convert", "--config", file.toString(), "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("step 0 exact");
        float[] layer0 = tensor(out, mixtralGate(0));
        float[] layer1 = tensor(out, mixtralGate(1));
        for (int e = 0; e < 3; e++) {
            assertThat(norm(row(layer0, e))).isCloseTo(1.0, within(1e-5));
            assertThat(norm(row(layer1, e))).isCloseTo(1.0, within(1e-5));
        }
        // hidden: each layer's rows come from that layer's input, so they differ between layers
        assertThat(layer1).isNotEqualTo(layer0);
        Cli verify = Cli.run("verify", out.toString(), "--against", base.toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("PASS  functional").contains("planned step 0: exact")
                .contains("result: every check passed");
    }

    @Test
    void cheapEmbedWritesTheSameRowsInEveryLayer(@TempDir Path tmp) throws Exception {
        byteModel(tmp.resolve("base"), "llama", 22);
        Path file = tmp.resolve("moe.yml");
        Files.writeString(file, """
                base_model: base
                gate_mode: cheap_embed
                experts:
                  - {source_model: base, positive_prompts: ["alpha", "beta"]}
                  - {source_model: base, positive_prompts: ["gamma"], negative_prompts: ["alpha"]}
                """);
        Path out = convert(file, tmp.resolve("out"));
        float[] layer0 = tensor(out, mixtralGate(0));
        assertThat(tensor(out, mixtralGate(1))).containsExactly(layer0);
        assertThat(row(layer0, 0)).isNotEqualTo(row(layer0, 1));
        assertThat(norm(row(layer0, 1))).isCloseTo(1.0, within(1e-5));
    }

    @Test
    void swappingTwoExpertsPromptsInTheFileSwapsTheWrittenRows(@TempDir Path tmp) throws Exception {
        byteModel(tmp.resolve("base"), "llama", 23);
        String body = """
                base_model: base
                gate_mode: hidden
                experts:
                  - {source_model: base, positive_prompts: [%s]}
                  - {source_model: base, positive_prompts: ["third"]}
                  - {source_model: base, positive_prompts: [%s]}
                """;
        String first = "\"first prompt\", \"and another\"";
        String second = "\"second\"";
        Path a = tmp.resolve("a.yml");
        Path b = tmp.resolve("b.yml");
        Files.writeString(a, body.formatted(first, second));
        Files.writeString(b, body.formatted(second, first));
        Path outA = convert(a, tmp.resolve("out-a"));
        Path outB = convert(b, tmp.resolve("out-b"));
        for (int l = 0; l < 2; l++) {
            float[] ga = tensor(outA, mixtralGate(l));
            float[] gb = tensor(outB, mixtralGate(l));
            assertThat(row(gb, 0)).as("layer %d", l).containsExactly(row(ga, 2));
            assertThat(row(gb, 2)).as("layer %d", l).containsExactly(row(ga, 0));
            assertThat(row(gb, 1)).as("layer %d", l).containsExactly(row(ga, 1));
            assertThat(row(ga, 0)).isNotEqualTo(row(ga, 2));
        }
    }

    @Test
    void qwen2SharedExpertGateRowComesFromTheSharedPrompts(@TempDir Path tmp) throws Exception {
        byteModel(tmp.resolve("base"), "qwen2", 24);
        String body = """
                base_model: base
                gate_mode: hidden
                experts:
                  - {source_model: base, positive_prompts: ["routed zero"]}
                  - {source_model: base, positive_prompts: ["routed one"]}
                shared_experts:
                  - {source_model: base, positive_prompts: [%s]}
                """;
        Path same = tmp.resolve("same.yml");
        Path other = tmp.resolve("other.yml");
        // the shared expert's prompts are routed expert 1's: its gate row must equal that router row
        Files.writeString(same, body.formatted("\"routed one\""));
        Files.writeString(other, body.formatted("\"always on\""));
        Path outSame = convert(same, tmp.resolve("out-same"));
        Path outOther = convert(other, tmp.resolve("out-other"));
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".mlp.";
            float[] router = tensor(outSame, p + "gate.weight");
            float[] shared = tensor(outSame, p + "shared_expert_gate.weight");
            assertThat(shared).hasSize(HIDDEN);
            assertThat(shared).as("layer %d", l).containsExactly(row(router, 1));
            float[] sharedOther = tensor(outOther, p + "shared_expert_gate.weight");
            assertThat(norm(sharedOther)).isCloseTo(1.0, within(1e-5));
            assertThat(sharedOther).isNotEqualTo(shared);
            // the routed rows do not depend on the shared expert's prompts
            assertThat(tensor(outOther, p + "gate.weight")).containsExactly(router);
        }
        assertThat(List.of(outSame, outOther)).allSatisfy(o -> assertThat(o.resolve("upcycle.json")).exists());
    }
}
