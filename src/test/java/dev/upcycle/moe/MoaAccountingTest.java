package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.model.MoaConfig;
import org.junit.jupiter.api.Test;

/**
 * docs/attention-experts.md, "Parameters, active parameters and FLOPs", and invariant T11
 * (docs/design.md): the formulas reproduce BAM's Table 9 totals and the corrected active counts.
 */
class MoaAccountingTest {
    // 590M setting: d=1024, h=h_kv=8, d_h=128, f=2048, V=256000, L=6, untied, one norm per block.
    static final MoaAccounting BAM_590M = new MoaAccounting(1024, 8, 8, 128, 2048, 256000, 6, false, 1);

    @Test
    void table9Totals() {
        assertThat(BAM_590M.dense(256).total()).isEqualTo(587_209_728L);
        assertThat(BAM_590M.btx(4, 1, 256).total()).isEqualTo(700_480_512L);
        assertThat(BAM_590M.bam(MoaConfig.Variant.SEPARATE, 4, 4, 4, 1, 256).total()).isEqualTo(776_002_560L);
        assertThat(BAM_590M.bam(MoaConfig.Variant.SHARED_KV, 4, 4, 4, 1, 256).total()).isEqualTo(738_253_824L);
    }

    @Test
    void correctedActiveCounts() {
        assertThat(BAM_590M.bam(MoaConfig.Variant.SEPARATE, 4, 4, 4, 1, 256).active()).isEqualTo(662_756_352L);
        assertThat(BAM_590M.bam(MoaConfig.Variant.SHARED_KV, 4, 4, 4, 1, 256).active()).isEqualTo(625_007_616L);
    }

    /** Table 7's attention column per layer: BTX 8,912,896 and BAM separate 4x that (n_ctx 256). */
    @Test
    void attentionFlopsPerLayer() {
        MoaAccounting one = new MoaAccounting(1024, 8, 8, 128, 2048, 256000, 1, false, 1);
        long ffnAndRouter = 2 * 4 * 1024 + 2L * 3 * 1024 * 2048;
        assertThat(one.btx(4, 1, 256).flopsPerToken() - ffnAndRouter).isEqualTo(8_912_896L);
        assertThat(one.bam(MoaConfig.Variant.SEPARATE, 4, 4, 4, 1, 256).flopsPerToken() - ffnAndRouter - 2 * 4 * 1024)
                .isEqualTo(35_651_584L);
    }
}
