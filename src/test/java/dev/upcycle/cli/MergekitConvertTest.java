package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.runtime.PromptGates;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.TinyModels;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code convert --config}: a mergekit-moe configuration written as mergekit writes it (tensor
 * names, shapes, config.json fields, sources of every tensor), with the router computation from
 * prompts replaced by a deterministic fake so these tests run without it.
 */
class MergekitConvertTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Rows a fake gate computer returns: any values, a function of (layer, position) only. */
    private static float[][] arbitraryRows(int layers, int width) {
        float[][] rows = new float[layers][width];
        for (int l = 0; l < layers; l++) {
            for (int i = 0; i < width; i++) {
                rows[l][i] = (float) Math.sin(1 + l * 7919 + i * 0.37) * 3;
            }
        }
        return rows;
    }

    /** The calls a fake gate computer saw. */
    private record Call(Path base, PromptGates.Mode mode, List<PromptGates.GatePrompts> gates) {
    }

    private static Cli run(MergekitConversion.GateComputer gates, String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        ((ConvertCommand) cl.getSubcommands().get("convert").getCommand()).gates = gates;
        int code = cl.execute(args);
        return new Cli(code, out.toString(), err.toString());
    }

    private static MergekitConversion.GateComputer fake(List<Call> calls, int layers, int hidden) {
        return (base, families, mode, gates) -> {
            calls.add(new Call(base, mode, gates));
            return arbitraryRows(layers, gates.size() * hidden);
        };
    }

    private static MergekitConversion.GateComputer unused() {
        return (base, families, mode, gates) -> {
            throw new AssertionError("random gates need no prompts run through the model");
        };
    }

    private static Path llama(Path dir, long seed) {
        // 256 tokens: a byte-level model, so prompts need no tokenizer file
        return TinyModels.dense(dir, "llama", DType.F32, seed, b -> b.vocabSize(256));
    }

    private static JsonNode json(Path file) throws Exception {
        return JSON.readTree(Files.readString(file));
    }

    @Test
    void mixtralFromTwoModelsTakesEachExpertFromItsSourceAndTheRestFromTheBase(@TempDir Path tmp) throws Exception {
        Path base = llama(tmp.resolve("base"), 1);
        llama(tmp.resolve("coder"), 2);
        Path file = tmp.resolve("moe.yml");
        // relative references resolve against the file's directory
        Files.writeString(file, """
                base_model: base
                gate_mode: random
                experts_per_token: 1
                experts:
                  - source_model: coder
                  - source_model: base
                    residual_scale: 0.5
                """);
        Path out = tmp.resolve("out");
        Cli r = run(unused(), "convert", "--config", file.toString(), "-o", out.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("experts come from other models than the base model");
        JsonNode config = json(out.resolve("config.json"));
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("MixtralForCausalLM");
        assertThat(config.get("num_local_experts").asInt()).isEqualTo(2);
        assertThat(config.get("num_experts_per_tok").asInt()).isEqualTo(1);
        assertThat(config.get("intermediate_size").asInt()).isEqualTo(64);
        try (Checkpoint o = Checkpoint.open(out); Checkpoint b = Checkpoint.open(base);
             Checkpoint c = Checkpoint.open(tmp.resolve("coder"))) {
            for (String name : List.of("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
                    "model.layers.1.self_attn.q_proj.weight", "model.layers.1.input_layernorm.weight")) {
                assertThat(TensorBytes.equal(o.tensor(name), b.tensor(name))).as(name).isTrue();
            }
            String moe = "model.layers.1.block_sparse_moe.";
            String mlp = "model.layers.1.mlp.";
            assertThat(TensorBytes.equal(o.tensor(moe + "experts.0.w1.weight"), c.tensor(mlp + "gate_proj.weight"))).isTrue();
            assertThat(TensorBytes.equal(o.tensor(moe + "experts.0.w2.weight"), c.tensor(mlp + "down_proj.weight"))).isTrue();
            assertThat(TensorBytes.equal(o.tensor(moe + "experts.0.w3.weight"), c.tensor(mlp + "up_proj.weight"))).isTrue();
            // residual_scale multiplies down_proj only
            assertThat(TensorBytes.equal(o.tensor(moe + "experts.1.w1.weight"), b.tensor(mlp + "gate_proj.weight"))).isTrue();
            assertThat(TensorBytes.equal(o.tensor(moe + "experts.1.w3.weight"), b.tensor(mlp + "up_proj.weight"))).isTrue();
            float[] down = b.tensor(mlp + "down_proj.weight").file().readFloats(mlp + "down_proj.weight");
            float[] scaled = o.tensor(moe + "experts.1.w2.weight").file().readFloats(moe + "experts.1.w2.weight");
            for (int i = 0; i < down.length; i++) {
                assertThat(scaled[i]).isEqualTo(down[i] * 0.5f);
            }
            assertThat(o.tensor(moe + "gate.weight").header().shape().dims()).containsExactly(2, 32);
        }
        JsonNode manifest = json(out.resolve("upcycle.json"));
        JsonNode m = manifest.at("/options/mergekit");
        assertThat(m.get("text").asText()).isEqualTo(Files.readString(file));
        assertThat(m.get("sha256").asText()).hasSize(64);
        assertThat(m.get("inputs")).extracting(JsonNode::asText).containsExactly("base", "coder");
        Cli verify = Cli.run("verify", out.toString(), "--against", base.toString(), "--against",
                tmp.resolve("coder").toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("PASS  weights");
    }

    /** Every expert the base model's MLP, top-K then softmax: step 0 is the base model whatever the rows. */
    @Test
    void allBaseExpertsAreExactAtStepZeroWhateverTheGates(@TempDir Path tmp) throws Exception {
        Path base = llama(tmp.resolve("base"), 3);
        Path file = tmp.resolve("moe.yml");
        Files.writeString(file, """
                base_model: base
                gate_mode: hidden
                experts_per_token: 2
                experts:
                  - source_model: base
                    positive_prompts: ["def f(x):", "import numpy"]
                    negative_prompts: ["Once upon a time"]
                  - source_model: base
                    positive_prompts: ["Once upon a time"]
                  - source_model: base
                    positive_prompts: ["2 + 2 ="]
                """);
        List<Call> calls = new ArrayList<>();
        Path out = tmp.resolve("out");
        Cli r = run(fake(calls, 2, 32), "convert", "--config", file.toString(), "-o", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("step 0 exact");
        assertThat(calls).singleElement().satisfies(c -> {
            assertThat(c.mode()).isEqualTo(PromptGates.Mode.HIDDEN_LAST);
            assertThat(c.base()).isEqualTo(base);
            assertThat(c.gates()).hasSize(3);
            // a byte-level model: one token per byte, no beginning-of-sequence token
            assertThat(c.gates().get(0).positive().get(0)).containsExactly("def f(x):".chars().toArray());
            assertThat(c.gates().get(0).negative()).hasSize(1);
        });
        float[][] rows = arbitraryRows(2, 3 * 32);
        try (Checkpoint o = Checkpoint.open(out)) {
            for (int l = 0; l < 2; l++) {
                String name = "model.layers." + l + ".block_sparse_moe.gate.weight";
                assertThat(o.tensor(name).file().readFloats(name)).containsExactly(rows[l]);
            }
        }
        Cli verify = Cli.run("verify", out.toString(), "--against", base.toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("PASS  functional").contains("router rows computed from the configuration's prompts");
    }

    @Test
    void qwenMoeWithASharedExpertIsWrittenAsMergekitWritesIt(@TempDir Path tmp) throws Exception {
        Path base = TinyModels.dense(tmp.resolve("base"), "qwen2", DType.F32, 4, b -> b.vocabSize(256));
        TinyModels.dense(tmp.resolve("other"), "qwen2", DType.F32, 5, b -> b.vocabSize(256));
        Path file = tmp.resolve("moe.yml");
        Files.writeString(file, """
                base_model: base
                gate_mode: cheap_embed
                experts:
                  - source_model: other
                    positive_prompts: ["a"]
                  - source_model: base
                    positive_prompts: ["b"]
                shared_experts:
                  - source_model: other
                    positive_prompts: ["c"]
                    residual_scale: 0.25
                """);
        List<Call> calls = new ArrayList<>();
        Path out = tmp.resolve("out");
        Cli r = run(fake(calls, 2, 32), "convert", "--config", file.toString(), "-o", out.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(calls.get(0).mode()).isEqualTo(PromptGates.Mode.CHEAP_EMBED);
        assertThat(calls.get(0).gates()).hasSize(3);
        JsonNode config = json(out.resolve("config.json"));
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("Qwen2MoeForCausalLM");
        assertThat(config.get("num_experts").asInt()).isEqualTo(2);
        assertThat(config.get("num_experts_per_tok").asInt()).isEqualTo(2);
        assertThat(config.get("norm_topk_prob").asBoolean()).isTrue();
        assertThat(config.get("decoder_sparse_step").asInt()).isEqualTo(1);
        assertThat(config.get("moe_intermediate_size").asInt()).isEqualTo(64);
        assertThat(config.get("shared_expert_intermediate_size").asInt()).isEqualTo(64);
        assertThat(config.path("use_sliding_window").asBoolean(false)).isFalse();
        float[][] rows = arbitraryRows(2, 3 * 32);
        try (Checkpoint o = Checkpoint.open(out); Checkpoint other = Checkpoint.open(tmp.resolve("other"))) {
            String p = "model.layers.0.mlp.";
            assertThat(o.tensor(p + "gate.weight").file().readFloats(p + "gate.weight"))
                    .containsExactly(java.util.Arrays.copyOfRange(rows[0], 0, 64));
            assertThat(o.tensor(p + "shared_expert_gate.weight").header().shape().dims()).containsExactly(1, 32);
            assertThat(o.tensor(p + "shared_expert_gate.weight").file().readFloats(p + "shared_expert_gate.weight"))
                    .containsExactly(java.util.Arrays.copyOfRange(rows[0], 64, 96));
            assertThat(TensorBytes.equal(o.tensor(p + "shared_expert.up_proj.weight"),
                    other.tensor(p + "up_proj.weight"))).isTrue();
            assertThat(TensorBytes.equal(o.tensor(p + "experts.0.gate_proj.weight"),
                    other.tensor(p + "gate_proj.weight"))).isTrue();
            float[] down = other.tensor(p + "down_proj.weight").file().readFloats(p + "down_proj.weight");
            float[] shared = o.tensor(p + "shared_expert.down_proj.weight").file()
                    .readFloats(p + "shared_expert.down_proj.weight");
            for (int i = 0; i < down.length; i++) {
                assertThat(shared[i]).isEqualTo(down[i] * 0.25f);
            }
        }
        // loads and runs in this project's runtime (the functional check is its forward pass)
        Cli verify = Cli.run("verify", out.toString(), "--against", base.toString(), "--against",
                tmp.resolve("other").toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("functional").contains("logits");
    }

    @Test
    void randomGatesAreReproducibleFromTheSeed(@TempDir Path tmp) throws Exception {
        llama(tmp.resolve("base"), 6);
        String body = """
                base_model: base
                gate_mode: %s
                experts: [{source_model: base}, {source_model: base}, {source_model: base}]
                upcycle: {seed: %d}
                """;
        float[][] w = new float[4][];
        String[][] runs = {{"random", "5"}, {"random", "5"}, {"random", "6"}, {"uniform_random", "5"}};
        for (int i = 0; i < runs.length; i++) {
            Path file = tmp.resolve("m" + i + ".yml");
            Files.writeString(file, body.formatted(runs[i][0], Long.parseLong(runs[i][1])));
            Path out = tmp.resolve("out" + i);
            Cli r = run(unused(), "convert", "--config", file.toString(), "-o", out.toString(), "-q");
            assertThat(r.code()).as(r.err()).isZero();
            try (Checkpoint o = Checkpoint.open(out)) {
                String name = "model.layers.1.block_sparse_moe.gate.weight";
                w[i] = o.tensor(name).file().readFloats(name);
            }
        }
        assertThat(w[1]).containsExactly(w[0]);
        assertThat(w[2]).isNotEqualTo(w[0]);
        double bound = 1 / Math.sqrt(32);
        for (float v : w[3]) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo((float) bound);
        }
        // N(0, 1) per element: of 96 draws, many beyond the uniform bound
        long wide = 0;
        for (float v : w[0]) {
            wide += Math.abs(v) > 0.5 ? 1 : 0;
        }
        assertThat(wide).isGreaterThan(30);
    }

    /** Rows that are a function of the gate's prompts only: equal prompts, equal rows. */
    private static MergekitConversion.GateComputer fromPrompts(int layers, int hidden) {
        return (base, families, mode, gates) -> {
            float[][] rows = new float[layers][gates.size() * hidden];
            for (int g = 0; g < gates.size(); g++) {
                long h = 17;
                for (int[] ids : gates.get(g).positive()) {
                    h = h * 31 + java.util.Arrays.hashCode(ids);
                }
                for (int[] ids : gates.get(g).negative()) {
                    h = h * 37 - java.util.Arrays.hashCode(ids);
                }
                for (int l = 0; l < layers; l++) {
                    for (int i = 0; i < hidden; i++) {
                        rows[l][g * hidden + i] = (float) Math.sin(h + l * 101 + i);
                    }
                }
            }
            return rows;
        };
    }

    private static float[] row(Path out, int layer, int expert) {
        String name = "model.layers." + layer + ".block_sparse_moe.gate.weight";
        try (Checkpoint o = Checkpoint.open(out)) {
            float[] w = o.tensor(name).file().readFloats(name);
            return java.util.Arrays.copyOfRange(w, expert * 32, (expert + 1) * 32);
        }
    }

    /** Each expert's row sits at its place: swapping two experts' prompts swaps their rows exactly. */
    @Test
    void routerRowsFollowTheirExpertsPrompts(@TempDir Path tmp) throws Exception {
        llama(tmp.resolve("base"), 9);
        String body = """
                base_model: base
                gate_mode: hidden_avg
                experts:
                  - {source_model: base, positive_prompts: ["%s"]}
                  - {source_model: base, positive_prompts: ["%s"], negative_prompts: ["n"]}
                  - {source_model: base, positive_prompts: ["first"]}
                """;
        Path a = tmp.resolve("a.yml");
        Path b = tmp.resolve("b.yml");
        Files.writeString(a, body.formatted("first", "second"));
        Files.writeString(b, body.formatted("second", "first"));
        for (Path f : List.of(a, b)) {
            Cli r = run(fromPrompts(2, 32), "convert", "--config", f.toString(), "-o", tmp.resolve("out-" + f
                    .getFileName()).toString(), "-q");
            assertThat(r.code()).as(r.err()).isZero();
        }
        Path outA = tmp.resolve("out-a.yml");
        Path outB = tmp.resolve("out-b.yml");
        for (int l = 0; l < 2; l++) {
            // identical prompts, identical rows
            assertThat(row(outA, l, 0)).containsExactly(row(outA, l, 2));
            // the swap moves the rows (the negative prompt stays with expert 1)
            assertThat(row(outB, l, 0)).isNotEqualTo(row(outA, l, 0));
            assertThat(row(outB, l, 2)).containsExactly(row(outA, l, 2));
        }
        Path c = tmp.resolve("c.yml");
        Files.writeString(c, """
                base_model: base
                gate_mode: cheap_embed
                experts:
                  - {source_model: base, positive_prompts: ["x"]}
                  - {source_model: base, positive_prompts: ["y"]}
                """);
        Path d = tmp.resolve("d.yml");
        Files.writeString(d, Files.readString(c).replace("\"x\"", "\"tmp\"").replace("\"y\"", "\"x\"")
                .replace("\"tmp\"", "\"y\""));
        for (Path f : List.of(c, d)) {
            assertThat(run(fromPrompts(2, 32), "convert", "--config", f.toString(), "-o",
                    tmp.resolve("out-" + f.getFileName()).toString(), "-q").code()).isZero();
        }
        for (int l = 0; l < 2; l++) {
            assertThat(row(tmp.resolve("out-d.yml"), l, 0)).containsExactly(row(tmp.resolve("out-c.yml"), l, 1));
            assertThat(row(tmp.resolve("out-d.yml"), l, 1)).containsExactly(row(tmp.resolve("out-c.yml"), l, 0));
        }
    }

    private static JsonNode dryRun(Path file) throws Exception {
        Cli r = run(unused(), "convert", "--config", file.toString(), "--dry-run", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    @Test
    void theVerdictSaysWhatTheConfigurationDoesToStepZero(@TempDir Path tmp) throws Exception {
        Path base = llama(tmp.resolve("base"), 10);
        llama(tmp.resolve("other"), 11);
        // a byte-identical copy under another name is the same function
        TinyModels.dense(tmp.resolve("copy"), "llama", DType.F32, 10, b -> b.vocabSize(256));
        Path f = tmp.resolve("m.yml");
        String experts = "base_model: base\ngate_mode: random\nexperts:\n  - {source_model: base}\n  - %s\n";
        Object[][] cases = {
                {"{source_model: copy}", "exact"},
                {"{source_model: base, noise_scale: 0.01}", "approximate"},
                {"{source_model: base, residual_scale: 0.5}", "not function-preserving"},
                {"{source_model: other}", "not function-preserving"}};
        for (Object[] c : cases) {
            Files.writeString(f, experts.formatted(c[0]));
            JsonNode plan = dryRun(f);
            assertThat(plan.at("/step0/verdict").asText()).as(c[0].toString()).isEqualTo(c[1]);
        }
        Files.writeString(f, experts.formatted("{source_model: other}"));
        assertThat(dryRun(f).at("/step0/reasons/0").asText()).contains("Experts come from different models");
        // Mixtral cannot express softmax-topk: refused in one line, as for any conversion
        Files.writeString(f, experts.formatted("{source_model: base}") + "upcycle: {routing: softmax-topk}\n");
        Cli softmax = run(unused(), "convert", "--config", f.toString(), "--dry-run");
        assertThat(softmax.code()).isEqualTo(3);
        assertThat(softmax.errorLine()).startsWith("upcycle: ImpossibleCombination : --target mixtral : ");
        assertThat(base).exists();
    }

    @Test
    void qwen3ModelsBecomeQwen3Moe(@TempDir Path tmp) throws Exception {
        TinyModels.dense(tmp.resolve("base"), "qwen3", DType.F32, 12, b -> b.vocabSize(256));
        Path f = tmp.resolve("m.yml");
        Files.writeString(f, "base_model: base\ngate_mode: random\ndtype: bfloat16\n"
                + "experts: [{source_model: base}, {source_model: base}]\n");
        Path out = tmp.resolve("out");
        Cli r = run(unused(), "convert", "--config", f.toString(), "-o", out.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode config = json(out.resolve("config.json"));
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("Qwen3MoeForCausalLM");
        // the dtype written is the dtype declared, as mergekit sets torch_dtype
        assertThat(config.get("torch_dtype").asText()).isEqualTo("bfloat16");
        assertThat(config.get("norm_topk_prob").asBoolean()).isTrue();
        assertThat(config.get("moe_intermediate_size").asInt()).isEqualTo(64);
        assertThat(config.path("decoder_sparse_step").asInt(1)).isEqualTo(1);
        Cli verify = Cli.run("verify", out.toString(), "--against", tmp.resolve("base").toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("PASS  functional");
    }

    /** A real tokenizer: each prompt after the tokenizer's beginning-of-sequence token, as mergekit prepends it. */
    @Test
    void promptsAreTokenizedAfterTheBaseModelsBosToken(@TempDir Path tmp) throws Exception {
        Path tokenizer = dev.upcycle.data.RealTokenizers.LLAMA3.tokenizerJson();
        Path base = tmp.resolve("base");
        Cli s = Cli.run("synth", "--family", "llama", "-o", base.toString(), "--layers", "1", "--hidden", "32",
                "--heads", "2", "--kv-heads", "1", "--intermediate", "64", "--vocab", "128256", "--dtype", "bf16", "-q");
        assertThat(s.code()).as(s.err()).isZero();
        Files.copy(tokenizer, base.resolve("tokenizer.json"));
        Files.writeString(base.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|begin_of_text|>\"}");
        Path f = tmp.resolve("m.yml");
        Files.writeString(f, "base_model: base\ngate_mode: hidden\nexperts:\n"
                + "  - {source_model: base, positive_prompts: [\"Hello world\"]}\n"
                + "  - {source_model: base, positive_prompts: [\"Bonjour\"]}\n");
        List<Call> calls = new ArrayList<>();
        Cli r = run(fake(calls, 1, 32), "convert", "--config", f.toString(), "--dry-run");
        assertThat(r.code()).as(r.err()).isZero();
        int[] ids = calls.get(0).gates().get(0).positive().get(0);
        assertThat(ids[0]).isEqualTo(128_000);
        try (dev.upcycle.data.TextCodec codec = dev.upcycle.data.TextCodec.tokenizer(tokenizer, 128_256)) {
            assertThat(ids).containsExactly(codec.encode("<|begin_of_text|>Hello world"));
        }
    }

    @Test
    void refusalsAreOneLineNamingTheCause(@TempDir Path tmp) throws Exception {
        Path base = llama(tmp.resolve("base"), 7);
        TinyModels.dense(tmp.resolve("wide"), "llama", DType.F32, 8, b -> b.vocabSize(256).intermediateSize(128));
        Path file = tmp.resolve("moe.yml");
        Files.writeString(file, "base_model: base\ngate_mode: random\nupcycle: {seed: 3}\n"
                + "experts: [{source_model: base}, {source_model: base}]\n");
        String cfg = file.toString();
        Path out = tmp.resolve("out");
        assertThat(run(unused(), "convert", "--config", cfg, base.toString(), "-o", out.toString()).errorLine())
                .startsWith("upcycle: InvalidOption : --config : ").contains("give no DENSE_DIR");
        Cli experts = run(unused(), "convert", "--config", cfg, "--experts", "4", "-o", out.toString());
        assertThat(experts.code()).isEqualTo(2);
        assertThat(experts.errorLine()).startsWith("upcycle: InvalidOption : --experts : does not apply with --config");
        assertThat(run(unused(), "convert", "--config", cfg, "--seed", "1", "-o", out.toString()).errorLine())
                .isEqualTo("upcycle: InvalidOption : --seed : conflicts with --config: " + cfg + " sets it (upcycle.seed)");
        Cli none = run(unused(), "convert", "-o", out.toString());
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.errorLine()).contains("DENSE_DIR").contains("--config FILE");
        Files.writeString(file, "base_model: base\ngate_mode: random\nexperts: [{source_model: wide}]\n"
                + "experts_per_token: 1\n");
        Cli shapes = run(unused(), "convert", "--config", cfg, "-o", out.toString());
        assertThat(shapes.code()).isEqualTo(3);
        assertThat(shapes.errorLine()).contains("intermediate_size is 128");
        // refused before any prompt runs through the base model (the computer here fails the test)
        Files.writeString(file, "base_model: base\ngate_mode: hidden\nexperts:\n"
                + "  - {source_model: base, positive_prompts: [a]}\n  - {source_model: wide, positive_prompts: [b]}\n");
        Cli early = run(unused(), "convert", "--config", cfg, "-o", out.toString());
        assertThat(early.code()).as(early.err()).isEqualTo(3);
        assertThat(early.errorLine()).isEqualTo("upcycle: ImpossibleCombination : seed 1 : seeds must have identical "
                + "architecture: intermediate_size is 128, seed 0 has 64");
        Files.writeString(file, "base_model: base\ngate_mode: random\narchitecture: qwen3\n"
                + "experts: [{source_model: base}]\nexperts_per_token: 1\n");
        Cli arch = run(unused(), "convert", "--config", cfg, "-o", out.toString());
        assertThat(arch.code()).isEqualTo(3);
        assertThat(arch.errorLine()).contains("architecture qwen3").contains("qwen3 models only");
        Files.writeString(file, "base_model: missing\ngate_mode: random\nexperts: [{source_model: base}]\n"
                + "experts_per_token: 1\n");
        assertThat(run(unused(), "convert", "--config", cfg, "-o", out.toString()).code()).isEqualTo(3);
        TinyModels.dense(tmp.resolve("words"), "llama", DType.F32, 9, b -> b);
        Files.writeString(file, "base_model: words\nexperts: [{source_model: words, positive_prompts: [a]}, "
                + "{source_model: words, positive_prompts: [b]}]\n");
        Cli tokenizer = run(unused(), "convert", "--config", cfg, "-o", out.toString());
        assertThat(tokenizer.code()).isEqualTo(3);
        assertThat(tokenizer.errorLine()).startsWith("upcycle: InvalidTokenizer : ").contains("tokenizer.json");
        assertThat(out).doesNotExist();
    }
}
