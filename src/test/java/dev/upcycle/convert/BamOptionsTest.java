package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code expert_noise_std}, {@code shared_kv_init} and the {@code upcycle} provenance block
 * (docs/attention-experts.md).
 */
class BamOptionsTest {

    static UpcycleRequest sharedKv(int seeds, Integer kvSeed) {
        return BamMergeTest.request(seeds, null, "auto")
                .withMoa(new MoaSpec(MoaConfig.Variant.SHARED_KV, seeds, null, RouterInit.RANDOM, 0.02, kvSeed));
    }

    /** shared_kv_init seed:X: the shared k/v of every MoA layer are seed X's, byte for byte; the rest stays averaged. */
    @Test
    void sharedKvFromOneSeed(@TempDir Path tmp) throws Exception {
        List<Path> seeds = BamMergeTest.seeds(tmp, 3);
        Converter.Result r = ConvertFixtures.converter().convert(seeds, tmp.resolve("bam"), sharedKv(3, 1),
                ConvertFixtures.settings());
        List<Checkpoint> in = new ArrayList<>();
        seeds.forEach(s -> in.add(Checkpoint.open(s)));
        try (Checkpoint out = Checkpoint.open(r.output())) {
            for (int layer = 0; layer < 2; layer++) {
                for (String p : List.of("k_proj", "v_proj")) {
                    String name = "model.layers." + layer + ".self_attn." + p + ".weight";
                    assertThat(TensorBytes.equal(out.tensor(name), in.get(1).tensor(name))).as(name).isTrue();
                    assertThat(TensorBytes.equal(out.tensor(name), in.get(0).tensor(name))).as(name).isFalse();
                }
            }
            BamMergeTest.assertMean(out, in, "model.layers.0.input_layernorm.weight");
        } finally {
            in.forEach(Checkpoint::close);
        }
        JsonNode block = upcycleBlock(r.output());
        assertThat(block.get("shared_kv_init").asText()).isEqualTo("seed:1");
        assertThat(r.plan().choices()).anyMatch(c -> c.contains("shared k/v: copied from seed 1"));
    }

    @Test
    void sharedKvInitNamesAnInputAndNeedsSharedKv(@TempDir Path tmp) throws Exception {
        List<Path> seeds = BamMergeTest.seeds(tmp, 2);
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(seeds, sharedKv(2, 2)))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidOption);
                    assertThat(e.getMessage()).contains("seed:2 names no input (2 given");
                });
        assertThatThrownBy(() -> new MoaSpec(MoaConfig.Variant.SEPARATE, 2, null, RouterInit.RANDOM, 0.02, 0))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.getMessage()).contains("--shared-kv-init").contains("moa-shared-kv only"));
        assertThat(MoaSpec.parseSharedKvInit("mean")).isNull();
        assertThat(MoaSpec.parseSharedKvInit("seed:3")).isEqualTo(3);
        for (String bad : List.of("seed:", "seed:x", "median", "seed:1.5")) {
            assertThatThrownBy(() -> MoaSpec.parseSharedKvInit(bad)).isInstanceOf(UpcycleException.class);
        }
    }

    /**
     * With one seed both shared_kv_init options give the seed's k/v (docs/attention-experts.md,
     * "Two variants: separate and shared k/v").
     */
    @Test
    void oneSeedSharedKvInitIsTheSeed(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                .withMoa(new MoaSpec(MoaConfig.Variant.SHARED_KV, 2, null, RouterInit.RANDOM, 0.02, 0));
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"), req, ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).isTrue();
        try (Checkpoint out = Checkpoint.open(r.output()); Checkpoint in = Checkpoint.open(dense)) {
            String k = "model.layers.1.self_attn.k_proj.weight";
            assertThat(TensorBytes.equal(out.tensor(k), in.tensor(k))).isTrue();
        }
    }

    /**
     * expert_noise_std: every copied expert weight is the source plus N(0, sigma^2) noise, drawn per tensor
     * (so experts differ from each other), reproducibly; non-expert tensors are untouched.
     */
    @Test
    void expertNoiseBreaksTheSymmetryReproducibly(@TempDir Path tmp) throws Exception {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        double sigma = 0.01;
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                .withMoa(new MoaSpec(MoaConfig.Variant.SEPARATE, 3, null, RouterInit.ZERO, 0.02))
                .withExpertNoiseStd(sigma);
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("a"), req, ConvertFixtures.settings());
        Fidelity f = r.plan().fidelity();
        assertThat(f.verdict()).isEqualTo(Fidelity.Verdict.APPROXIMATE);
        assertThat(f.reasons()).anyMatch(s -> s.contains("--expert-noise-std"));
        // Zero router with noise: the experts can diverge, so no symmetry warning.
        assertThat(f.warnings()).noneMatch(s -> s.contains("never diverge"));
        try (Checkpoint out = Checkpoint.open(r.output()); Checkpoint in = Checkpoint.open(dense)) {
            List<String[]> pairs = List.of(
                    new String[] {"model.layers.0.self_attn.experts.0.q_proj.weight", "model.layers.0.self_attn.q_proj.weight"},
                    new String[] {"model.layers.0.self_attn.experts.2.v_proj.weight", "model.layers.0.self_attn.v_proj.weight"},
                    new String[] {"model.layers.1.block_sparse_moe.experts.1.w2.weight", "model.layers.1.mlp.down_proj.weight"},
                    new String[] {"model.layers.1.block_sparse_moe.experts.3.w1.weight", "model.layers.1.mlp.gate_proj.weight"});
            for (String[] p : pairs) {
                float[] got = out.tensor(p[0]).file().readFloats(p[0]);
                float[] src = in.tensor(p[1]).file().readFloats(p[1]);
                double sum = 0;
                double sq = 0;
                for (int i = 0; i < got.length; i++) {
                    double d = (double) got[i] - src[i];
                    sum += d;
                    sq += d * d;
                }
                double mean = sum / got.length;
                double std = Math.sqrt(sq / got.length - mean * mean);
                // >= 512 samples (deterministic draws): the sample std is within 10 % of sigma and the mean within 4 standard errors.
                assertThat(got.length).isGreaterThanOrEqualTo(512);
                assertThat(std).as(p[0]).isBetween(0.9 * sigma, 1.1 * sigma);
                assertThat(Math.abs(mean)).as(p[0]).isLessThan(4 * sigma / Math.sqrt(got.length));
            }
            assertThat(TensorBytes.equal(out.tensor("model.layers.0.self_attn.experts.0.q_proj.weight"),
                    out.tensor("model.layers.0.self_attn.experts.1.q_proj.weight"))).isFalse();
            for (String same : List.of("model.embed_tokens.weight", "model.layers.0.input_layernorm.weight")) {
                assertThat(TensorBytes.equal(out.tensor(same), in.tensor(same))).isTrue();
            }
        }
        Path b = ConvertFixtures.converter().convert(dense, tmp.resolve("b"), req, ConvertFixtures.settings()).output();
        assertThat(Files.readAllBytes(b.resolve("model.safetensors")))
                .isEqualTo(Files.readAllBytes(r.output().resolve("model.safetensors")));
        assertThat(upcycleBlock(r.output()).get("expert_noise_std").asDouble()).isEqualTo(sigma);
    }

    /** One seed, zero attention router and no noise is warned about. */
    @Test
    void zeroRouterWithoutNoiseIsWarnedAbout(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcyclePlan plan = ConvertFixtures.converter().plan(dense, UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                .withMoa(new MoaSpec(MoaConfig.Variant.SEPARATE, 2, null, RouterInit.ZERO, 0.02)));
        assertThat(plan.fidelity().warnings()).anyMatch(s -> s.contains("never diverge"));
    }

    @Test
    void negativeOrNonFiniteNoiseIsRefused() {
        UpcycleRequest r = UpcycleRequest.of(MoaConvertTest.ffn(4, 2));
        for (double bad : new double[] {-0.1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> r.withExpertNoiseStd(bad)).isInstanceOfSatisfying(UpcycleException.class,
                    e -> assertThat(e.getMessage()).contains("--expert-noise-std"));
        }
    }

    /** The provenance block of a BAM merge, and the config still reads back. */
    @Test
    void provenanceBlockOfAMerge(@TempDir Path tmp) throws Exception {
        List<Path> seeds = BamMergeTest.seeds(tmp, 2);
        UpcycleRequest req = BamMergeTest.request(4, MoaConfig.Variant.SEPARATE, "auto")
                .withMoa(new MoaSpec(MoaConfig.Variant.SEPARATE, 2, null, RouterInit.RANDOM, 0.02));
        Converter.Result r = ConvertFixtures.converter().convert(seeds, tmp.resolve("bam"), req, ConvertFixtures.settings());
        JsonNode u = upcycleBlock(r.output());
        assertThat(u.get("method").asText()).isEqualTo("bam");
        assertThat(u.get("seeds").toString()).isEqualTo("[\"seed0\",\"seed1\"]");
        assertThat(u.get("expert_to_seed").toString()).isEqualTo("[0,0,1,1]");
        assertThat(u.get("attention_expert_to_seed").toString()).isEqualTo("[0,1]");
        assertThat(u.get("router_init").get("kind").asText()).isEqualTo("normal");
        assertThat(u.get("router_init").get("std").asDouble()).isEqualTo(0.02);
        assertThat(u.has("shared_kv_init")).isFalse();
        ModelConfig back = ModelConfig.read(r.output().resolve("config.json"), FamilyRegistry.builtIn());
        assertThat(back).isEqualTo(r.plan().targetConfig().toBuilder().build());
    }

    static JsonNode upcycleBlock(Path dir) throws Exception {
        return new ObjectMapper().readTree(dir.resolve("config.json").toFile()).get("upcycle");
    }
}
