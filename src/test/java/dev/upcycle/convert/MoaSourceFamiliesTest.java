package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Attention experts from the sources whose attention is more than Llama's: Qwen3 (per-head q/k
 * RMSNorm before RoPE) and sliding windows (Mistral on every layer; Qwen2 and Qwen3 from
 * {@code max_window_layers} on). Single-seed upcycles are the dense seed at step 0 within the bounds
 * of {@link MoaConvertTest} (1e-12 in the float64 reference, 1e-5 through DJL), and a merge of Qwen3
 * seeds copies each seed's norms into its experts.
 */
class MoaSourceFamiliesTest {
    /** Longer than the window, so the window changes what the last tokens see. */
    private static final int TOKENS = 12;
    private static final int WINDOW = 4;

    /** The seeds by name: 2 layers, d=32, 4 heads / 2 kv heads of 8, vocabulary 64. */
    static Path seed(Path dir, String name, long seed) {
        String family = name.substring(0, name.indexOf('-') < 0 ? name.length() : name.indexOf('-'));
        UnaryOperator<ModelConfig.Builder> tweak = switch (name) {
            case "qwen3" -> b -> b;
            // layer 0 attends fully, layer 1 through the window
            case "qwen3-window", "qwen2-window" ->
                    b -> b.useSlidingWindow(true).slidingWindow(WINDOW).maxWindowLayers(1);
            case "mistral-window" -> b -> b.slidingWindow(WINDOW);
            default -> throw new IllegalArgumentException(name);
        };
        return TinyModels.dense(dir, family, DType.F32, seed, tweak);
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String seed : List.of("qwen3", "qwen3-window", "mistral-window", "qwen2-window")) {
            for (MoaConfig.Variant v : MoaConfig.Variant.values()) {
                out.add(Arguments.of(seed, v, null));
                out.add(Arguments.of(seed, v, 2)); // top-2 of 4 attention experts, renormalised
            }
        }
        return out.stream();
    }

    static UpcycleRequest request(MoaConfig.Variant v, int experts, Integer topK) {
        return UpcycleRequest.of(MoaConvertTest.ffn(4, 2)).withTarget("native")
                .withMoa(new MoaSpec(v, experts, topK, RouterInit.RANDOM, 0.02));
    }

    @ParameterizedTest(name = "{0} {1} attention top-k={2}")
    @MethodSource("cases")
    void stepZeroIsTheDenseSeed(String name, MoaConfig.Variant v, Integer topK, @TempDir Path tmp) {
        Path dense = seed(tmp.resolve("dense"), name, 7);
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"), request(v, 4, topK),
                ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).as(r.plan().fidelity().reasons().toString()).isTrue();
        int[] tokens = ConvertFixtures.tokens(64, TOKENS);
        double[][] want;
        double[][] ref;
        try (ReferenceModel d = ReferenceModel.open(dense); ReferenceModel m = ReferenceModel.open(r.output())) {
            ModelConfig src = d.config();
            ModelConfig out = m.config();
            assertThat(out.family().name()).isEqualTo("upcycle_moa");
            assertThat(out.hasQkNorm()).isEqualTo(src.hasQkNorm());
            for (int layer = 0; layer < src.numHiddenLayers(); layer++) {
                assertThat(out.slidingWindow(layer)).as("window of layer " + layer).isEqualTo(src.slidingWindow(layer));
            }
            want = d.logits(tokens);
            ref = m.logits(tokens);
        }
        float[][] djl;
        try (CausalLm lm = CausalLm.load(r.output())) {
            djl = lm.logits(tokens);
        }
        double refErr = RelativeError.of(ref, want);
        double djlErr = RelativeError.of(djl, want);
        System.out.printf("MoA from %s, %s, attention top-k %s: reference f64 %.2e (max |diff| %.2e), "
                + "DJL f32 %.2e (max |diff| %.2e)%n", name, v, topK, refErr, maxAbs(ref, want), djlErr,
                maxAbs(djl, want));
        assertThat(refErr).isLessThanOrEqualTo(1e-12);
        assertThat(djlErr).isLessThanOrEqualTo(1e-5);
    }

    /**
     * The control for the windowed cases: the same MoA checkpoint with its window removed from
     * config.json is no longer the dense seed, so the window is applied, not vacuous.
     */
    @Test
    void withoutItsWindowTheMoaIsNotTheSeed(@TempDir Path tmp) throws Exception {
        Path dense = seed(tmp.resolve("dense"), "mistral-window", 7);
        Path moa = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"),
                request(MoaConfig.Variant.SEPARATE, 2, null), ConvertFixtures.settings()).output();
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(moa.resolve("config.json").toFile());
        assertThat(config.get("use_sliding_window").booleanValue()).isTrue();
        assertThat(config.get("sliding_window").intValue()).isEqualTo(WINDOW);
        assertThat(config.get("max_window_layers").intValue()).isZero();
        config.remove(List.of("use_sliding_window", "sliding_window", "max_window_layers"));
        json.writeValue(moa.resolve("config.json").toFile(), config);
        int[] tokens = ConvertFixtures.tokens(64, TOKENS);
        try (ReferenceModel d = ReferenceModel.open(dense); CausalLm lm = CausalLm.load(moa)) {
            assertThat(RelativeError.of(lm.logits(tokens), d.logits(tokens))).isGreaterThan(1e-3);
        }
    }

    /**
     * The native layout of q/k norms: every attention expert has its own copy of the seed's q norm;
     * separate experts also their own k norm, shared_kv layers one k norm beside the one k.
     */
    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void expertsCopyTheSeedsNorms(MoaConfig.Variant v, @TempDir Path tmp) throws Exception {
        Path dense = seed(tmp.resolve("dense"), "qwen3", 7);
        int m = 3;
        Path out = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"), request(v, m, null),
                ConvertFixtures.settings()).output();
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("attention_qk_norm").booleanValue()).isTrue();
        assertThat(config.has("sliding_window")).as("no window, no window keys").isFalse();
        try (Checkpoint o = Checkpoint.open(out); Checkpoint in = Checkpoint.open(dense)) {
            for (int layer = 0; layer < 2; layer++) {
                String p = "model.layers." + layer + ".self_attn.";
                assertThat(o.tensors()).doesNotContainKey(p + "q_norm.weight");
                for (int e = 0; e < m; e++) {
                    String x = p + "experts." + e + ".";
                    assertThat(TensorBytes.equal(o.tensor(x + "q_norm.weight"), in.tensor(p + "q_norm.weight")))
                            .isTrue();
                    if (v == MoaConfig.Variant.SEPARATE) {
                        assertThat(TensorBytes.equal(o.tensor(x + "k_norm.weight"), in.tensor(p + "k_norm.weight")))
                                .isTrue();
                    } else {
                        assertThat(o.tensors()).doesNotContainKey(x + "k_norm.weight");
                    }
                }
                if (v == MoaConfig.Variant.SHARED_KV) {
                    assertThat(TensorBytes.equal(o.tensor(p + "k_norm.weight"), in.tensor(p + "k_norm.weight")))
                            .isTrue();
                } else {
                    assertThat(o.tensors()).doesNotContainKey(p + "k_norm.weight");
                }
            }
        }
    }

    /**
     * BAM from three Qwen3 seeds with a window on layer 1: expert X's norms are seed X's, a shared k
     * norm is the mean; the merge matches no seed, and DJL computes what the reference computes.
     */
    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void qwen3SeedsMerge(MoaConfig.Variant v, @TempDir Path tmp) throws Exception {
        List<Path> seeds = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            seeds.add(seed(tmp.resolve("seed" + i), "qwen3-window", 100 + i));
        }
        Converter.Result r = ConvertFixtures.converter().convert(seeds, tmp.resolve("bam"),
                BamMergeTest.request(3, v, "auto"), ConvertFixtures.settings());
        assertThat(r.plan().target().cliName()).isEqualTo("native");
        assertThat(r.plan().fidelity().isExact()).isFalse();
        List<Checkpoint> in = new ArrayList<>();
        seeds.forEach(s -> in.add(Checkpoint.open(s)));
        try (Checkpoint out = Checkpoint.open(r.output())) {
            String p = "model.layers.1.self_attn.";
            for (int x = 0; x < 3; x++) {
                assertThat(TensorBytes.equal(out.tensor(p + "experts." + x + ".q_norm.weight"),
                        in.get(x).tensor(p + "q_norm.weight"))).isTrue();
                if (v == MoaConfig.Variant.SEPARATE) {
                    assertThat(TensorBytes.equal(out.tensor(p + "experts." + x + ".k_norm.weight"),
                            in.get(x).tensor(p + "k_norm.weight"))).isTrue();
                }
            }
            if (v == MoaConfig.Variant.SHARED_KV) {
                BamMergeTest.assertMean(out, in, p + "k_norm.weight");
            }
        } finally {
            in.forEach(Checkpoint::close);
        }
        int[] tokens = ConvertFixtures.tokens(64, TOKENS);
        try (ReferenceModel m = ReferenceModel.open(r.output()); CausalLm lm = CausalLm.load(r.output())) {
            double[][] merged = m.logits(tokens);
            for (Path s : seeds) {
                try (ReferenceModel d = ReferenceModel.open(s)) {
                    assertThat(RelativeError.of(merged, d.logits(tokens))).isGreaterThan(1e-2);
                }
            }
            assertThat(RelativeError.of(lm.logits(tokens), merged)).isLessThan(1e-5);
        }
    }

    /** Qwen seeds whose windows start on different layers compute different functions: not merged. */
    @Test
    void seedsWithWindowsOnOtherLayersAreRefused(@TempDir Path tmp) {
        Path a = seed(tmp.resolve("a"), "qwen3-window", 1);
        Path b = TinyModels.dense(tmp.resolve("b"), "qwen3", DType.F32, 2,
                x -> x.useSlidingWindow(true).slidingWindow(WINDOW).maxWindowLayers(0));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ConvertFixtures.converter().plan(List.of(a, b),
                        BamMergeTest.request(2, MoaConfig.Variant.SEPARATE, "auto")))
                .isInstanceOfSatisfying(dev.upcycle.error.UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(dev.upcycle.error.ErrorKind.ImpossibleCombination);
                    assertThat(e.getMessage()).contains("max_window_layers is 0, seed 0 has 1");
                });
    }

    /** verify --against passes the functional and the weight check for both kinds of source. */
    @ParameterizedTest
    @MethodSource("verified")
    void verifyPasses(String name, String variant, @TempDir Path tmp) throws Exception {
        Path dense = seed(tmp.resolve("dense"), name, 7);
        TinyModels.manifest(dense);
        Path out = tmp.resolve("moa");
        Cli convert = Cli.run("convert", dense.toString(), "-o", out.toString(), "--attention", variant,
                "--attention-experts", "3", "--experts", "4", "--top-k", "2", "--routing", "topk-softmax", "-q");
        assertThat(convert.code()).as(convert.err()).isZero();
        Cli verify = Cli.run("verify", out.toString(), "--against", dense.toString(), "--json", "--tokens", "16");
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        JsonNode report = new ObjectMapper().readTree(verify.out());
        List<String> passed = new ArrayList<>();
        for (JsonNode c : report.get("checks")) {
            if (c.get("status").asText().equals("pass")) {
                passed.add(c.get("name").asText());
            }
        }
        assertThat(passed).contains("weights", "functional");
        assertThat(Files.exists(out.resolve("upcycle.json"))).isTrue();
    }

    static Stream<Arguments> verified() {
        return Stream.of(Arguments.of("qwen3", "moa-separate"), Arguments.of("qwen3-window", "moa-shared-kv"),
                Arguments.of("mistral-window", "moa-separate"));
    }

    private static double maxAbs(double[][] a, double[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }

    private static double maxAbs(float[][] a, double[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }
}
