package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.model.MoaConfig.BlockLayout;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Block layouts, docs/design.md, "Invariants of attention experts and merges": T4 (a parallel seed
 * upcycled with parallel blocks) and T18 (forcing them on a sequential seed).
 */
class BlockLayoutTest {
    private static final int[] TOKENS = ConvertFixtures.tokens(64, 12);

    static Stream<Arguments> parallelCases() {
        List<Arguments> out = new ArrayList<>();
        for (int norms : new int[] {1, 2}) {
            for (MoaConfig.Variant v : MoaConfig.Variant.values()) {
                out.add(Arguments.of(norms, v, null));
                out.add(Arguments.of(norms, v, 2));
            }
            out.add(Arguments.of(norms, null, null)); // --attention keep: an FFN-only MoE with parallel blocks
        }
        return out.stream();
    }

    /** T4: the upcycled parallel model equals the parallel seed (f64 reference and DJL f32). */
    @ParameterizedTest(name = "{0} norm(s), {1}, attention top-k {2}")
    @MethodSource("parallelCases")
    void parallelSeedUpcycledInParallelIsTheSeed(int norms, MoaConfig.Variant v, Integer k, @TempDir Path tmp) {
        Path seed = TinyModels.parallel(tmp.resolve("seed"), norms, 11);
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2));
        if (v != null) {
            req = req.withMoa(new MoaSpec(v, 4, k, RouterInit.RANDOM, 0.02));
        }
        Converter.Result r = ConvertFixtures.converter().convert(seed, tmp.resolve("moe"), req, ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).as(r.plan().fidelity().reasons().toString()).isTrue();
        assertThat(r.plan().target().cliName()).isEqualTo("native"); // auto: only native has parallel blocks
        MoaConfig moa = r.plan().targetConfig().moa();
        assertThat(moa.blockLayout()).isEqualTo(BlockLayout.PARALLEL);
        assertThat(moa.parallelNumNorms()).isEqualTo(norms);
        double[][] want;
        double[][] got;
        try (ReferenceModel d = ReferenceModel.open(seed); ReferenceModel m = ReferenceModel.open(r.output())) {
            want = d.logits(TOKENS);
            got = m.logits(TOKENS);
        }
        float[][] djl;
        try (CausalLm lm = CausalLm.load(r.output())) {
            djl = lm.logits(TOKENS);
        }
        double refErr = RelativeError.of(got, want);
        double djlErr = RelativeError.of(djl, want);
        System.out.printf("T4 parallel %d norm(s) %s top-k %s: reference f64 %.2e, DJL f32 %.2e%n", norms, v, k,
                refErr, djlErr);
        assertThat(refErr).isLessThanOrEqualTo(1e-12);
        assertThat(djlErr).isLessThanOrEqualTo(1e-5);
    }

    /** T18: a sequential seed is not run as parallel blocks unless forced; forced, its logits change. */
    @Test
    void parallelOnASequentialSeedIsRefusedUnlessForced(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                .withMoa(new MoaSpec(MoaConfig.Variant.SEPARATE, 4, null, RouterInit.RANDOM, 0.02))
                .withBlock(new BlockSpec(BlockLayout.PARALLEL, null, false));
        Path out = tmp.resolve("forced");
        assertThatThrownBy(() -> ConvertFixtures.converter().convert(dense, out, req, ConvertFixtures.settings()))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.getMessage()).contains("--block-layout parallel").contains("sequential blocks");
                });
        assertThat(out).doesNotExist();

        Converter.Result r = ConvertFixtures.converter().convert(dense, out,
                req.withBlock(new BlockSpec(BlockLayout.PARALLEL, null, true)), ConvertFixtures.settings());
        assertThat(r.plan().fidelity().verdict()).isEqualTo(Fidelity.Verdict.NOT_PRESERVING);
        assertThat(r.plan().targetConfig().moa().parallelNumNorms()).isEqualTo(2);
        double[][] want;
        try (ReferenceModel d = ReferenceModel.open(dense)) {
            want = d.logits(TOKENS);
        }
        float[][] djl;
        try (CausalLm lm = CausalLm.load(r.output())) {
            djl = lm.logits(TOKENS);
        }
        double err = RelativeError.of(djl, want);
        System.out.printf("T18 forced parallel on a sequential seed: logits differ by %.2e%n", err);
        assertThat(err).isGreaterThan(1e-2);
    }

    @Test
    void onlyTheNativeTargetHasParallelBlocks(@TempDir Path tmp) {
        Path seed = TinyModels.parallel(tmp.resolve("seed"), 1, 11);
        for (String target : List.of("mixtral", "qwen2-moe", "qwen3-moe")) {
            assertThatThrownBy(() -> ConvertFixtures.converter().plan(seed,
                    UpcycleRequest.of(MoaConvertTest.ffn(4, 2)).withTarget(target)))
                    .isInstanceOfSatisfying(UpcycleException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                        assertThat(e.getMessage()).contains("sequential blocks only");
                    });
        }
    }

    /** A second norm that copies input_layernorm computes what the one norm did: exact. */
    @Test
    void oneNormSeedWrittenWithTwoNormsIsExact(@TempDir Path tmp) {
        Path seed = TinyModels.parallel(tmp.resolve("seed"), 1, 11);
        Converter.Result r = ConvertFixtures.converter().convert(seed, tmp.resolve("two"),
                UpcycleRequest.of(MoaConvertTest.ffn(4, 2)).withBlock(new BlockSpec(null, 2, false)),
                ConvertFixtures.settings());
        assertThat(r.plan().fidelity().isExact()).isTrue();
        try (Checkpoint out = Checkpoint.open(r.output())) {
            for (int layer = 0; layer < 2; layer++) {
                String p = "model.layers." + layer + ".";
                assertThat(TensorBytes.equal(out.tensor(p + "post_attention_layernorm.weight"),
                        out.tensor(p + "input_layernorm.weight"))).isTrue();
            }
        }
        double[][] want;
        double[][] got;
        try (ReferenceModel d = ReferenceModel.open(seed); ReferenceModel m = ReferenceModel.open(r.output())) {
            want = d.logits(TOKENS);
            got = m.logits(TOKENS);
        }
        assertThat(RelativeError.of(got, want)).isLessThanOrEqualTo(1e-12);
    }

    /** Dropping a two-norm seed's second norm changes the function: refused as an approximation. */
    @Test
    void twoNormSeedWrittenWithOneNormNeedsAllowApproximate(@TempDir Path tmp) {
        Path seed = TinyModels.parallel(tmp.resolve("seed"), 2, 11);
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2)).withBlock(new BlockSpec(null, 1, false));
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(seed, req))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.getMessage()).contains("post_attention_layernorm").contains("dropped");
                });
        assertThat(ConvertFixtures.converter().plan(seed, req.withAllowApproximate(true)).fidelity().verdict())
                .isEqualTo(Fidelity.Verdict.NOT_PRESERVING);
    }

    /** A parallel seed forced into sequential blocks: its one norm serves both sub-blocks, and the function changes. */
    @Test
    void parallelSeedForcedSequential(@TempDir Path tmp) throws Exception {
        Path seed = TinyModels.parallel(tmp.resolve("seed"), 1, 11);
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                .withBlock(new BlockSpec(BlockLayout.SEQUENTIAL, null, false));
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(seed, req))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination));
        Converter.Result r = ConvertFixtures.converter().convert(seed, tmp.resolve("seq"),
                req.withBlock(new BlockSpec(BlockLayout.SEQUENTIAL, null, true)), ConvertFixtures.settings());
        assertThat(r.plan().fidelity().verdict()).isEqualTo(Fidelity.Verdict.NOT_PRESERVING);
        // Sequential blocks fit every target; auto picks mixtral, the most widely loadable.
        assertThat(r.plan().target().cliName()).isEqualTo("mixtral");
        try (Checkpoint out = Checkpoint.open(r.output())) {
            assertThat(TensorBytes.equal(out.tensor("model.layers.0.post_attention_layernorm.weight"),
                    out.tensor("model.layers.0.input_layernorm.weight"))).isTrue();
        }
    }

    @Test
    void parallelNormsNeedParallelBlocks(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        assertThatThrownBy(() -> ConvertFixtures.converter().plan(dense,
                UpcycleRequest.of(MoaConvertTest.ffn(4, 2)).withBlock(new BlockSpec(null, 1, false))))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidOption);
                    assertThat(e.getMessage()).contains("--parallel-norms");
                });
    }
}
