package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Merges of several seeds: BTX and BAM (T12, T13, T19 of docs/design.md,
 * "Invariants of attention experts and merges"; seed checks).
 */
class BamMergeTest {

    static Path seed(Path dir, long seed, UnaryOperator<ModelConfig.Builder> tweak) throws Exception {
        return TinyModels.dense(dir, "llama", DType.F32, seed, tweak);
    }

    static List<Path> seeds(Path tmp, int n) throws Exception {
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(seed(tmp.resolve("seed" + i), 100 + i, b -> b));
        }
        return out;
    }

    static UpcycleRequest request(int n, MoaConfig.Variant v, String target) {
        UpcycleSpec spec = UpcycleSpec.builder().experts(n).topK(1).routing(RoutingMode.TOPK_SOFTMAX)
                .routerInit(RouterInit.RANDOM).routerStd(0.02).build();
        UpcycleRequest r = UpcycleRequest.of(spec).withTarget(target);
        return v == null ? r : r.withMoa(new MoaSpec(v, n, null, RouterInit.RANDOM, 0.02));
    }

    /** T12 and T13: experts are bit copies of their seed, averaged tensors the f64 mean rounded once. */
    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void bamExpertsComeFromTheirSeedAndTheRestIsTheMean(MoaConfig.Variant v, @TempDir Path tmp) throws Exception {
        List<Path> seeds = seeds(tmp, 3);
        Converter.Result r = ConvertFixtures.converter().convert(seeds, tmp.resolve("bam"), request(3, v, "auto"),
                ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).isFalse();
        List<Checkpoint> in = new ArrayList<>();
        seeds.forEach(s -> in.add(Checkpoint.open(s)));
        try (Checkpoint out = Checkpoint.open(r.output())) {
            for (int x = 0; x < 3; x++) {
                String p = "model.layers.1.self_attn.";
                assertThat(TensorBytes.equal(out.tensor(p + "experts." + x + ".q_proj.weight"),
                        in.get(x).tensor(p + "q_proj.weight"))).isTrue();
                assertThat(TensorBytes.equal(out.tensor("model.layers.1.block_sparse_moe.experts." + x + ".w2.weight"),
                        in.get(x).tensor("model.layers.1.mlp.down_proj.weight"))).isTrue();
                if (v == MoaConfig.Variant.SEPARATE) {
                    assertThat(TensorBytes.equal(out.tensor(p + "experts." + x + ".v_proj.weight"),
                            in.get(x).tensor(p + "v_proj.weight"))).isTrue();
                }
            }
            List<String> averaged = new ArrayList<>(List.of("model.embed_tokens.weight", "lm_head.weight",
                    "model.norm.weight", "model.layers.0.input_layernorm.weight"));
            if (v == MoaConfig.Variant.SHARED_KV) {
                averaged.add("model.layers.0.self_attn.k_proj.weight");
                averaged.add("model.layers.0.self_attn.v_proj.weight");
            }
            for (String name : averaged) {
                assertMean(out, in, name);
            }
        } finally {
            in.forEach(Checkpoint::close);
        }
        // T19: the merge matches no seed.
        int[] tokens = ConvertFixtures.tokens(64, 10);
        try (ReferenceModel m = ReferenceModel.open(r.output())) {
            double[][] merged = m.logits(tokens);
            for (Path s : seeds) {
                try (ReferenceModel d = ReferenceModel.open(s)) {
                    assertThat(RelativeError.of(merged, d.logits(tokens))).isGreaterThan(1e-2);
                }
            }
            // The DJL runtime computes the same merged model.
            try (CausalLm lm = CausalLm.load(r.output())) {
                assertThat(RelativeError.of(lm.logits(tokens), merged)).isLessThan(1e-5);
            }
        }
    }

    /** Byte-identical seeds: every expert is the seed's function, so the merge is exact and the plan says so. */
    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void identicalSeedsMergeIntoTheSeedsFunction(MoaConfig.Variant v, @TempDir Path tmp) throws Exception {
        Path s = seed(tmp.resolve("s"), 100, b -> b);
        Converter.Result r = ConvertFixtures.converter().convert(List.of(s, s), tmp.resolve("bam"),
                request(2, v, "auto"), ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).as(r.plan().fidelity().reasons().toString()).isTrue();
        assertThat(r.plan().fidelity().reasons()).anyMatch(x -> x.contains("byte-identical"))
                .noneMatch(x -> x.contains("matches no seed"));
        int[] tokens = ConvertFixtures.tokens(64, 10);
        try (ReferenceModel m = ReferenceModel.open(r.output()); ReferenceModel d = ReferenceModel.open(s)) {
            assertThat(RelativeError.of(m.logits(tokens), d.logits(tokens))).isLessThanOrEqualTo(1e-4);
        }
    }

    /** BTX: FFN experts from the seeds, attention averaged, written as Mixtral. */
    @Test
    void btxAveragesTheAttention(@TempDir Path tmp) throws Exception {
        List<Path> seeds = seeds(tmp, 2);
        Converter.Result r = ConvertFixtures.converter().convert(seeds, tmp.resolve("btx"), request(2, null, "auto"),
                ConvertFixtures.settings());
        assertThat(r.plan().target().cliName()).isEqualTo("mixtral");
        List<Checkpoint> in = new ArrayList<>();
        seeds.forEach(s -> in.add(Checkpoint.open(s)));
        try (Checkpoint out = Checkpoint.open(r.output())) {
            assertMean(out, in, "model.layers.0.self_attn.q_proj.weight");
            assertMean(out, in, "model.layers.1.self_attn.o_proj.weight");
            assertThat(TensorBytes.equal(out.tensor("model.layers.0.block_sparse_moe.experts.1.w1.weight"),
                    in.get(1).tensor("model.layers.0.mlp.gate_proj.weight"))).isTrue();
        } finally {
            in.forEach(Checkpoint::close);
        }
    }

    @Test
    void mismatchedSeedsAreRefusedNamingTheFirstDifference(@TempDir Path tmp) throws Exception {
        Path a = seed(tmp.resolve("a"), 1, b -> b);
        Path b = seed(tmp.resolve("b"), 2, x -> x.intermediateSize(48));
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(List.of(a, b), request(2, null, "auto")))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.getMessage()).contains("intermediate_size");
                });
        Path c = seed(tmp.resolve("c"), 3, x -> x.rmsNormEps(1e-5));
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(List.of(a, c), request(2, null, "auto")))
                .isInstanceOfSatisfying(UpcycleException.class, e -> assertThat(e.getMessage()).contains("rms_norm_eps"));
    }

    /** T13: f64 mean of the seeds, cast once (F32 here: within 1 ulp of the exactly rounded mean). */
    static void assertMean(Checkpoint out, List<Checkpoint> in, String name) {
        float[] got = out.tensor(name).file().readFloats(name);
        List<float[]> parts = new ArrayList<>();
        in.forEach(c -> parts.add(c.tensor(name).file().readFloats(name)));
        for (int i = 0; i < got.length; i++) {
            double sum = 0;
            for (float[] p : parts) {
                sum += p[i];
            }
            float want = (float) (sum / parts.size());
            assertThat(Math.abs(got[i] - want)).as(name + "[" + i + "]").isLessThanOrEqualTo(Math.ulp(want));
        }
    }
}
