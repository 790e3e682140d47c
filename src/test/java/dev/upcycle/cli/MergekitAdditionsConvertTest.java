package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * This tool's keys under {@code upcycle:} in a mergekit-moe file, through the CLI with the real
 * prompt gates: attention experts (one per expert, copied from that expert's model, written in the
 * native format), and granularity and scaling where every expert is the base model's MLP.
 */
class MergekitAdditionsConvertTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path byteModel(Path dir, String family, long seed) {
        return TinyModels.dense(dir, family, DType.F32, seed, b -> b.vocabSize(256));
    }

    private static Cli convert(Path file, Path out) {
        Cli r = Cli.run("convert", "--config", file.toString(), "-o", out.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return r;
    }

    private static JsonNode dryRun(Path file) throws Exception {
        Cli r = Cli.run("convert", "--config", file.toString(), "--dry-run", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    private static Cli verify(Path out, Path... against) {
        String[] args = new String[2 + 2 * against.length];
        args[0] = "verify";
        args[1] = out.toString();
        for (int i = 0; i < against.length; i++) {
            args[2 + 2 * i] = "--against";
            args[3 + 2 * i] = against[i].toString();
        }
        Cli v = Cli.run(args);
        assertThat(v.code()).as(v.out() + v.err()).isZero();
        return v;
    }

    private static boolean same(Path a, String nameA, Path b, String nameB) {
        try (Checkpoint x = Checkpoint.open(a); Checkpoint y = Checkpoint.open(b)) {
            return TensorBytes.equal(x.tensor(nameA), y.tensor(nameB));
        }
    }

    private static float[] floats(Path dir, String name) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return c.tensor(name).file().readFloats(name);
        }
    }

    @Test
    void attentionExpertIComesFromExpertIsModel(@TempDir Path tmp) throws Exception {
        Path base = byteModel(tmp.resolve("base"), "llama", 31);
        Path other = byteModel(tmp.resolve("other"), "llama", 32);
        Path file = tmp.resolve("moe.yml");
        Files.writeString(file, """
                base_model: base
                gate_mode: hidden
                experts:
                  - {source_model: other, positive_prompts: ["code"]}
                  - {source_model: base, positive_prompts: ["story"]}
                upcycle:
                  attention: moa-separate
                  attention_top_k: 1
                """);
        JsonNode plan = dryRun(file);
        assertThat(plan.at("/step0/verdict").asText()).isEqualTo("not function-preserving");
        Path out = tmp.resolve("out");
        convert(file, out);
        JsonNode config = JSON.readTree(Files.readString(out.resolve("config.json")));
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("UpcycleMoaForCausalLM");
        for (int l = 0; l < 2; l++) {
            String a = "model.layers." + l + ".self_attn.";
            for (String p : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                assertThat(same(out, a + "experts.0." + p + ".weight", other, a + p + ".weight")).as(l + p).isTrue();
                assertThat(same(out, a + "experts.1." + p + ".weight", base, a + p + ".weight")).as(l + p).isTrue();
            }
            String moe = "model.layers." + l + ".block_sparse_moe.experts.";
            assertThat(same(out, moe + "0.w1.weight", other, "model.layers." + l + ".mlp.gate_proj.weight")).isTrue();
            // what is not an expert comes from the base model
            assertThat(same(out, "model.layers." + l + ".input_layernorm.weight", base,
                    "model.layers." + l + ".input_layernorm.weight")).isTrue();
        }
        JsonNode options = JSON.readTree(Files.readString(out.resolve("upcycle.json"))).get("options");
        assertThat(options.get("attention").asText()).isEqualTo("moa-separate");
        assertThat(options.get("attention-top-k").asInt()).isEqualTo(1);
        // verify re-plans the attention experts from upcycle.json and finds every copy where planned
        assertThat(verify(out, base, other).out()).contains("PASS  weights");
    }

    @Test
    void allBaseAttentionExpertsAreExactAtStepZeroForQwen3AndLlama(@TempDir Path tmp) throws Exception {
        for (String family : new String[] {"qwen3", "llama"}) {
            Path base = byteModel(tmp.resolve(family), family, 33);
            Path file = tmp.resolve(family + ".yml");
            Files.writeString(file, """
                    base_model: %s
                    gate_mode: hidden
                    experts:
                      - {source_model: %s, positive_prompts: ["alpha"]}
                      - {source_model: %s, positive_prompts: ["beta"]}
                      - {source_model: %s, positive_prompts: ["gamma"]}
                    upcycle:
                      attention: moa-shared-kv
                      attention_top_k: 2
                      shared_kv_init: seed:0
                    """.formatted(family, family, family, family));
            assertThat(dryRun(file).at("/step0/verdict").asText()).as(family).isEqualTo("exact");
            Path out = tmp.resolve(family + "-out");
            convert(file, out);
            assertThat(verify(out, base).out()).as(family).contains("planned step 0: exact")
                    .contains("PASS  functional");
        }
    }

    @Test
    void scalingAndGranularityUpcycleTheBaseModelsMlpAsConvertDoes(@TempDir Path tmp) throws Exception {
        Path base = byteModel(tmp.resolve("base"), "qwen3", 34);
        String body = """
                base_model: base
                gate_mode: cheap_embed
                experts_per_token: 2
                experts:
                  - {source_model: base, positive_prompts: ["a"]}
                  - {source_model: base, positive_prompts: ["b"]}
                  - {source_model: base, positive_prompts: ["c"]}
                  - {source_model: base, positive_prompts: ["d"]}
                upcycle: {%s}
                """;
        Path file = tmp.resolve("m.yml");
        String mlp = "model.layers.1.mlp.";
        // top-K then softmax: s = 1, so exact-down changes nothing and step 0 stays exact
        Files.writeString(file, body.formatted("scaling: exact-down"));
        assertThat(dryRun(file).at("/step0/verdict").asText()).isEqualTo("exact");
        // softmax then top-K: s = N/K = 2 on up and down (sqrt(2) each); the prompt rows are no zero
        // router, so the weights still vary by token: approximate, as for convert
        Files.writeString(file, body.formatted("routing: softmax-topk, scaling: exact-balanced"));
        assertThat(dryRun(file).at("/step0/verdict").asText()).isEqualTo("approximate");
        Path scaled = tmp.resolve("scaled");
        convert(file, scaled);
        float[] up = floats(base, mlp + "up_proj.weight");
        float[] expertUp = floats(scaled, mlp + "experts.3.up_proj.weight");
        for (int i = 0; i < up.length; i++) {
            assertThat(expertUp[i]).isEqualTo((float) (up[i] * Math.sqrt(2)));
        }
        assertThat(same(scaled, mlp + "experts.3.gate_proj.weight", base, mlp + "gate_proj.weight")).isTrue();
        verify(scaled, base);
        // granularity 2: expert j is slice j % 2 of the base model's MLP
        Files.writeString(file, body.formatted("granularity: 2"));
        Path sliced = tmp.resolve("sliced");
        convert(file, sliced);
        float[] gate = floats(base, mlp + "gate_proj.weight");
        float[] expert3 = floats(sliced, mlp + "experts.3.gate_proj.weight");
        int half = gate.length / 2;
        assertThat(expert3).containsExactly(java.util.Arrays.copyOfRange(gate, half, gate.length));
        assertThat(JSON.readTree(Files.readString(sliced.resolve("config.json"))).get("moe_intermediate_size").asInt())
                .isEqualTo(32);
        verify(sliced, base);
    }

    @Test
    void refusalsNameTheKey(@TempDir Path tmp) throws Exception {
        byteModel(tmp.resolve("base"), "llama", 35);
        byteModel(tmp.resolve("other"), "llama", 36);
        Path file = tmp.resolve("m.yml");
        String two = "base_model: base\ngate_mode: random\nexperts: [{source_model: base}, {source_model: %s}]\n%s";
        String[][] cases = {
                {"other", "upcycle: {scaling: exact-down}\n", "key 'upcycle.scaling'", "experts[1] comes from other"},
                {"other", "upcycle: {granularity: 2}\n", "key 'upcycle.granularity'", "experts[1] comes from other"},
                {"base", "architecture: qwen\nshared_experts: [{source_model: base}]\nupcycle: {scaling: paper}\n",
                        "key 'upcycle.scaling'", "shared_experts"},
                {"base", "architecture: mixtral\nupcycle: {attention: moa-separate}\n", "key 'upcycle.attention'",
                        "native format only"},
                {"base", "architecture: qwen\nshared_experts: [{source_model: base}]\nupcycle: {attention: moa-separate}\n",
                        "key 'upcycle.attention'", "no shared expert"},
                {"base", "upcycle: {attention: moa-separate, attention_top_k: 3}\n", "key 'upcycle.attention_top_k'",
                        "one per expert"},
                {"base", "upcycle: {attention_router_init: zero}\n", "key 'upcycle.attention_router_init'",
                        "attention experts only"},
                {"base", "upcycle: {scaling: exact}\n", "key 'upcycle.scaling'", "did you mean"},
                {"base", "upcycle: {attention: moa-separate, shared_kv_init: mean}\n", "key 'upcycle.shared_kv_init'",
                        "moa-shared-kv only"}};
        for (String[] c : cases) {
            Files.writeString(file, two.formatted(c[0], c[1]));
            Cli r = Cli.run("convert", "--config", file.toString(), "--dry-run");
            assertThat(r.code()).as(c[1]).isEqualTo(3);
            assertThat(r.errorLine()).as(c[1]).startsWith("upcycle: InvalidRecipe : " + file + " " + c[2] + " : ")
                    .contains(c[3]);
            assertThat(r.err().lines().filter(line -> line.startsWith("upcycle:")).count()).as(c[1]).isEqualTo(1);
        }
    }
}
