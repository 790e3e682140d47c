package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.model.MoaConfig;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * T16 (docs/design.md, "Invariants of attention experts and merges"): with identical attention experts
 * the output does not depend on the attention router, so its gradient is zero (by float64 central
 * differences); experts from distinct seeds give an O(1) gradient. This is why one seed needs a random
 * router or expert noise (docs/attention-experts.md,
 * "One seed: copies, and why the router then learns nothing").
 */
class AttentionRouterGradientTest {
    private static final int[] TOKENS = ConvertFixtures.tokens(64, 12);
    private static final double EPS = 1e-5;

    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void identicalExpertsGiveTheRouterNoGradient(MoaConfig.Variant v, @TempDir Path tmp) {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        UpcycleRequest req = UpcycleRequest.of(MoaConvertTest.ffn(4, 2))
                .withMoa(new MoaSpec(v, 3, null, RouterInit.RANDOM, 0.02));
        Path moa = ConvertFixtures.converter().convert(dense, tmp.resolve("moa"), req, ConvertFixtures.settings()).output();
        double g = maxRouterGradient(moa);
        System.out.printf("T16 %s identical experts: max |dL/dW_attn| = %.2e%n", v, g);
        assertThat(g).isLessThanOrEqualTo(1e-6);
    }

    @ParameterizedTest
    @EnumSource(MoaConfig.Variant.class)
    void distinctExpertsGiveTheRouterAGradient(MoaConfig.Variant v, @TempDir Path tmp) throws Exception {
        List<Path> seeds = BamMergeTest.seeds(tmp, 3);
        Path bam = ConvertFixtures.converter().convert(seeds, tmp.resolve("bam"), BamMergeTest.request(3, v, "auto"),
                ConvertFixtures.settings()).output();
        double g = maxRouterGradient(bam);
        System.out.printf("T16 control %s, 3 distinct seeds: max |dL/dW_attn| = %.2e%n", v, g);
        assertThat(g).isGreaterThan(1e-2);
    }

    /** The largest |dL/dw| over every attention-router weight of every layer, L the mean next-token NLL. */
    static double maxRouterGradient(Path model) {
        double max = 0;
        try (ReferenceModel m = ReferenceModel.open(model)) {
            for (int layer = 0; layer < m.config().numHiddenLayers(); layer++) {
                String name = "model.layers." + layer + ".self_attn.router.weight";
                double[] w = m.tensor(name);
                for (int i = 0; i < w.length; i++) {
                    double[] p = w.clone();
                    p[i] = w[i] + EPS;
                    m.override(name, p);
                    double up = loss(m);
                    p[i] = w[i] - EPS;
                    m.override(name, p);
                    double down = loss(m);
                    max = Math.max(max, Math.abs(up - down) / (2 * EPS));
                }
                m.override(name, null);
            }
        }
        return max;
    }

    private static double loss(ReferenceModel m) {
        double[][] logits = m.logits(TOKENS);
        double sum = 0;
        for (int t = 0; t + 1 < TOKENS.length; t++) {
            double[] z = logits[t];
            double max = Double.NEGATIVE_INFINITY;
            for (double x : z) {
                max = Math.max(max, x);
            }
            double s = 0;
            for (double x : z) {
                s += Math.exp(x - max);
            }
            sum += max + Math.log(s) - z[TOKENS[t + 1]];
        }
        return sum / (TOKENS.length - 1);
    }
}
