package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.MoaAccounting;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link MoaAccounting#forwardFlops}, read from a written config, agrees with the per-kind formulas of
 * docs/attention-experts.md, "Parameters, active parameters and FLOPs".
 */
class ForwardFlopsTest {
    private static final long N_CTX = 64;

    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void moaConfigsMatchTheBamFormula(MoaConfig.Variant v, @TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        for (Integer k : new Integer[] {null, 1, 2}) {
            UpcyclePlan p = ConvertFixtures.converter().plan(dense, UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                    .withMoa(new MoaSpec(v, 3, k, RouterInit.RANDOM, 0.02)));
            MoaAccounting a = MoaAccounting.of(p.source());
            assertThat(MoaAccounting.forwardFlops(p.targetConfig(), N_CTX))
                    .isEqualTo(a.bam(v, 3, k == null ? 3 : k, 4, 2, N_CTX).flopsPerToken());
        }
    }

    @Test
    void denseAndFfnOnlyConfigsMatchTheirFormulas(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcyclePlan p = ConvertFixtures.converter().plan(dense,
                UpcycleRequest.of(MoaConvertTest.ffn(8, 2)).withTarget("mixtral"));
        MoaAccounting a = MoaAccounting.of(p.source());
        assertThat(MoaAccounting.forwardFlops(p.targetConfig(), N_CTX)).isEqualTo(a.btx(8, 2, N_CTX).flopsPerToken());
        ModelConfig source = p.source();
        assertThat(MoaAccounting.forwardFlops(source, N_CTX)).isEqualTo(a.dense(N_CTX).flopsPerToken());
    }

    /** Layers left dense count as dense (--layers 1 on qwen2-moe: layer 0 dense, layer 1 sparse). */
    @Test
    void partialLayersCountEachLayerAsItIs(@TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "qwen2");
        UpcyclePlan p = ConvertFixtures.converter().plan(dense,
                ConvertFixtures.request(MoaConvertTest.ffn(4, 2), "qwen2-moe", "1"));
        MoaAccounting a = MoaAccounting.of(p.source());
        long half = (a.dense(N_CTX).flopsPerToken() + a.btx(4, 2, N_CTX).flopsPerToken()) / 2;
        // The qwen2-moe target needs a shared expert in sparse layers: an all-zero one of width 1 (plus its gate).
        long sharedZero = 2 * (3L * 32 * 1 + 32);
        assertThat(MoaAccounting.forwardFlops(p.targetConfig(), N_CTX)).isEqualTo(half + sharedZero);
    }
}
