package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.moe.MoaAccounting;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Invariants of docs/design.md, "Invariants of attention experts and merges", for single-seed attention
 * experts (T1-T3, T5, T7-T10, T12, T17, T21, T22).
 */
class MoaConvertTest {

    static UpcycleSpec ffn(int experts, int topK) {
        // FFN top-k renormalised (topk-softmax): exact preservation needs it
        // (docs/attention-experts.md, "One seed: copies, and why the router then learns nothing").
        return UpcycleSpec.builder().experts(experts).topK(topK).routing(RoutingMode.TOPK_SOFTMAX)
                .scaling(ScalingMode.EXACT_DOWN).routerInit(RouterInit.RANDOM).routerStd(0.02).build();
    }

    static UpcycleRequest request(MoaConfig.Variant v, int m, Integer k, RouterInit init) {
        return UpcycleRequest.of(ffn(4, 2)).withTarget("native").withMoa(new MoaSpec(v, m, k, init, 0.02));
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (MoaConfig.Variant v : MoaConfig.Variant.values()) {
            for (int m : new int[] {1, 2, 4, 8}) {
                out.add(Arguments.of(v, m, null, RouterInit.RANDOM));
            }
            out.add(Arguments.of(v, 4, null, RouterInit.ZERO));
            out.add(Arguments.of(v, 4, 2, RouterInit.RANDOM)); // T3: top-k renormalised
        }
        return out.stream();
    }

    /** T1, T2, T3, T5, T22: logits equal the dense seed, by the reference (f64) and the DJL runtime (f32). */
    @ParameterizedTest(name = "{0} E_a={1} top-k={2} router {3}")
    @MethodSource("cases")
    void singleSeedMoaReproducesTheDenseModel(MoaConfig.Variant v, int m, Integer k, RouterInit init,
                                              @TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"), request(v, m, k, init),
                ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).as(r.plan().fidelity().reasons().toString()).isTrue();
        int[] tokens = ConvertFixtures.tokens(64, 12);
        double[][] want;
        double[][] got;
        try (ReferenceModel d = ReferenceModel.open(dense); ReferenceModel mo = ReferenceModel.open(r.output())) {
            assertThat(mo.config().family().name()).isEqualTo("upcycle_moa");
            want = d.logits(tokens);
            got = mo.logits(tokens);
        }
        double refErr = RelativeError.of(got, want);
        float[][] djl;
        try (CausalLm lm = CausalLm.load(r.output())) {
            djl = lm.logits(tokens);
        }
        double djlErr = RelativeError.of(djl, want);
        System.out.printf("MoA %s E_a=%d top-k=%s %s: reference f64 %.2e, DJL f32 %.2e%n", v, m, k, init, refErr, djlErr);
        assertThat(refErr).isLessThanOrEqualTo(1e-12);
        assertThat(djlErr).isLessThanOrEqualTo(1e-5);
    }

    /** T7, T8, T9, T10, T12: tensor layout, shapes, bit-identical expert copies, parameter total. */
    @ParameterizedTest
    @MethodSource("variants")
    void layoutShapesCopiesAndCounts(MoaConfig.Variant v, @TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        int m = 3;
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"),
                request(v, m, null, RouterInit.RANDOM), ConvertFixtures.settings());
        try (Checkpoint out = Checkpoint.open(r.output()); Checkpoint in = Checkpoint.open(dense)) {
            Map<String, TensorRef> t = out.tensors();
            long elements = 0;
            for (TensorRef ref : t.values()) {
                elements += ref.header().elements();
            }
            assertThat(elements).isEqualTo(r.plan().totalParameters());
            // T10: the accounting formula equals the written element count (llama fixture: no biases,
            // untied).
            MoaAccounting acc = MoaAccounting.of(r.plan().source());
            assertThat(elements).isEqualTo(acc.bam(v, m, m, 4, 2, 16).total());
            for (int layer = 0; layer < 2; layer++) {
                String p = "model.layers." + layer + ".self_attn.";
                assertThat(t).doesNotContainKeys(p + "q_proj.weight", p + "o_proj.weight");
                assertThat(t.get(p + "router.weight").header().shape().dims()).containsExactly(m, 32);
                assertThat(t.get("model.layers." + layer + ".block_sparse_moe.gate.weight").header().shape().dims())
                        .containsExactly(4, 32);
                long kv = t.keySet().stream().filter(n -> n.startsWith(p) && n.matches(".*\\.[kv]_proj\\.weight")).count();
                if (v == MoaConfig.Variant.SHARED_KV) {
                    assertThat(t).containsKeys(p + "k_proj.weight", p + "v_proj.weight");
                    assertThat(kv).isEqualTo(2);
                } else {
                    assertThat(t).doesNotContainKeys(p + "k_proj.weight", p + "v_proj.weight");
                    assertThat(kv).isEqualTo(2L * m);
                }
                for (int e = 0; e < m; e++) {
                    String x = p + "experts." + e + ".";
                    assertThat(t.get(x + "q_proj.weight").header().shape().dims()).containsExactly(32, 32);
                    assertThat(TensorBytes.equal(t.get(x + "q_proj.weight"), in.tensor(p + "q_proj.weight"))).isTrue();
                    assertThat(TensorBytes.equal(t.get(x + "o_proj.weight"), in.tensor(p + "o_proj.weight"))).isTrue();
                    if (v == MoaConfig.Variant.SEPARATE) {
                        assertThat(t.get(x + "k_proj.weight").header().shape().dims()).containsExactly(16, 32);
                        assertThat(TensorBytes.equal(t.get(x + "k_proj.weight"), in.tensor(p + "k_proj.weight"))).isTrue();
                        assertThat(TensorBytes.equal(t.get(x + "v_proj.weight"), in.tensor(p + "v_proj.weight"))).isTrue();
                    }
                }
            }
        }
    }

    static Stream<MoaConfig.Variant> variants() {
        return Stream.of(MoaConfig.Variant.values());
    }

    /** T21: the same options give byte-identical shards. */
    @Test
    void deterministic(@TempDir Path tmp) throws Exception {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleRequest req = request(MoaConfig.Variant.SHARED_KV, 2, null, RouterInit.RANDOM);
        Path a = ConvertFixtures.converter().convert(dense, tmp.resolve("a"), req, ConvertFixtures.settings()).output();
        Path b = ConvertFixtures.converter().convert(dense, tmp.resolve("b"), req, ConvertFixtures.settings()).output();
        assertThat(java.nio.file.Files.readAllBytes(a.resolve("model.safetensors")))
                .isEqualTo(java.nio.file.Files.readAllBytes(b.resolve("model.safetensors")));
    }

    /**
     * T17 (negative control): top-2-of-4 FFN routing without renormalisation and without a
     * compensating scale multiplies the FFN by the kept probability mass (about 1/2), so the
     * identical-expert model is no longer the dense one; renormalising is what makes T1 hold.
     */
    @Test
    void topKWithoutRenormalisationIsNotTheDenseModel(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleSpec spec = UpcycleSpec.builder().experts(4).topK(2).routing(RoutingMode.SOFTMAX_TOPK)
                .scaling(ScalingMode.NONE).routerInit(RouterInit.RANDOM).routerStd(0.02).build();
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"),
                UpcycleRequest.of(spec).withTarget("native")
                        .withMoa(new MoaSpec(MoaConfig.Variant.SEPARATE, 4, null, RouterInit.RANDOM, 0.02)),
                ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).isFalse();
        int[] tokens = ConvertFixtures.tokens(64, 12);
        double err;
        try (ReferenceModel d = ReferenceModel.open(dense); ReferenceModel m = ReferenceModel.open(r.output())) {
            err = RelativeError.of(m.logits(tokens), d.logits(tokens));
        }
        System.out.printf("T17 control, FFN top-2 of 4 without renormalisation: logits differ by %.2e%n", err);
        assertThat(err).isGreaterThan(1e-3);
    }

    /** Attention experts only go to the native format. */
    @Test
    void moaNeedsTheNativeTarget(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleRequest req = request(MoaConfig.Variant.SEPARATE, 2, null, RouterInit.RANDOM).withTarget("mixtral");
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(dense, req))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination));
    }
}
