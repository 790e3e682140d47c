package dev.upcycle.train;

import dev.upcycle.data.Batcher;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.runtime.Djl;
import dev.upcycle.runtime.Routing;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Aux losses, z-loss, LR schedule, clipping, AdamW and batching on hand-computed cases. */
class TrainPiecesTest {

    @Test
    void loadBalancingLossMatchesItsFormulaOnAHandCase() {
        try (NDManager m = Djl.newManager()) {
            // T = 2 tokens, N = 3 experts, K = 1
            float[][] p = {{0.5f, 0.3f, 0.2f}, {0.1f, 0.6f, 0.3f}};
            NDArray probs = m.create(p);
            AuxLosses aux = new AuxLosses(0.01, 0);
            aux.onRouting(0, new Routing(probs.log(), probs, probs.get(":, 0:1"), new long[] {0, 1}, 1));
            // f = (1/2, 1/2, 0); P = (0.3, 0.45, 0.25); α·N·Σ f·P = 0.01·3·(0.15 + 0.225) = 0.01125
            assertThat(aux.loadBalancing().getFloat()).isCloseTo(0.01125f, offset(1e-7f));
            assertThat(aux.load().get(0)).containsExactly(1, 1, 0);
        }
    }

    @Test
    void zeroRouterGivesAuxOverAlphaOneAndZLossBetaLnNSquared() {
        try (NDManager m = Djl.newManager()) {
            int tokens = 5;
            int experts = 8;
            NDArray logits = m.zeros(new Shape(tokens, experts));
            NDArray probs = logits.softmax(1);
            long[] sel = new long[tokens * 2];
            for (int i = 0; i < sel.length; i++) {
                sel[i] = i % 3; // any assignment, even an unbalanced one
            }
            AuxLosses aux = new AuxLosses(0.01, 1e-3);
            aux.onRouting(0, new Routing(logits, probs, probs.get(":, 0:2"), sel, 2));
            aux.onRouting(1, new Routing(logits, probs, probs.get(":, 0:2"), sel, 2));
            assertThat(aux.loadBalancing().getFloat() / 0.01f).isCloseTo(1f, offset(1e-6f));
            double ln = Math.log(experts);
            assertThat(aux.zLoss().getFloat()).isCloseTo((float) (1e-3 * ln * ln), offset(1e-8f));
        }
    }

    @Test
    void zLossMatchesItsFormulaOnAHandCase() {
        try (NDManager m = Djl.newManager()) {
            NDArray logits = m.create(new float[][] {{0, Float.parseFloat("0.6931471805599453")}, {2, 2}});
            AuxLosses aux = new AuxLosses(0, 0.5);
            NDArray probs = logits.softmax(1);
            aux.onRouting(0, new Routing(logits, probs, probs.get(":, 0:1"), new long[] {1, 0}, 1));
            // lse = ln 3 and 2 + ln 2; β·mean(lse²)
            double a = Math.log(3);
            double b = 2 + Math.log(2);
            assertThat(aux.zLoss().getFloat()).isCloseTo((float) (0.5 * (a * a + b * b) / 2), offset(1e-6f));
        }
    }

    /**
     * The attention router's z-loss (docs/attention-experts.md, "Training the routers") has its own
     * weight γ (0 by default) and adds to the FFN z-loss.
     */
    @Test
    void attentionRouterZLossHasItsOwnWeight() {
        try (NDManager m = Djl.newManager()) {
            // [B=1, T=2, E_a=2] logits: lse = ln 3 and 2 + ln 2
            NDArray attn = m.create(new float[] {0, (float) Math.log(2), 2, 2}, new Shape(1, 2, 2));
            NDArray ffn = m.zeros(new Shape(2, 4));
            NDArray probs = ffn.softmax(1);
            double a = Math.log(3);
            double b = 2 + Math.log(2);
            double ffnZ = 1e-3 * Math.log(4) * Math.log(4);
            AuxLosses on = new AuxLosses(0.01, 1e-3, 0.5);
            on.onAttentionRouting(0, attn);
            on.onRouting(0, new Routing(ffn, probs, probs.get(":, 0:1"), new long[] {0, 1}, 1));
            assertThat(on.zLoss().getFloat()).isCloseTo((float) (ffnZ + 0.5 * (a * a + b * b) / 2), offset(1e-6f));
            AuxLosses off = new AuxLosses(0.01, 1e-3);
            off.onAttentionRouting(0, attn);
            off.onRouting(0, new Routing(ffn, probs, probs.get(":, 0:1"), new long[] {0, 1}, 1));
            assertThat(off.zLoss().getFloat()).isCloseTo((float) ffnZ, offset(1e-7f));
        }
    }

    @Test
    void scheduleWarmsUpThenCosinesToTheMinimum() {
        LrSchedule s = new LrSchedule(1e-3, 1e-4, 10, 110, TrainConfig.Schedule.COSINE);
        assertThat(s.at(0)).isCloseTo(1e-4, offset(1e-15));
        assertThat(s.at(4)).isCloseTo(5e-4, offset(1e-15));
        assertThat(s.at(9)).isCloseTo(1e-3, offset(1e-15));
        assertThat(s.at(10)).isCloseTo(1e-3, offset(1e-15));
        // half-way through the 99 decay intervals: the mean of peak and minimum
        assertThat(new LrSchedule(1e-3, 1e-4, 10, 111, TrainConfig.Schedule.COSINE).at(60))
                .isCloseTo(5.5e-4, offset(1e-12));
        assertThat(s.at(109)).isCloseTo(1e-4, offset(1e-15));
        LrSchedule c = new LrSchedule(1e-3, 1e-4, 0, 50, TrainConfig.Schedule.CONSTANT);
        assertThat(c.at(0)).isEqualTo(1e-3);
        assertThat(c.at(49)).isEqualTo(1e-3);
    }

    @Test
    void clippingBoundsTheGlobalNorm() {
        try (NDManager m = Djl.newManager()) {
            NDArray a = m.create(new float[] {3, 0});
            NDArray b = m.create(new float[][] {{0, 4}});
            List<NDArray> params = List.of(a, b);
            params.forEach(p -> p.setRequiresGradient(true));
            try (var gc = ai.djl.engine.Engine.getEngine(Djl.ENGINE).newGradientCollector()) {
                // gradient of Σ w·w/2 is w: global norm 5
                gc.backward(a.square().sum().add(b.square().sum()).div(m.create(2f)));
            }
            assertThat(GradClip.globalNorm(params)).isCloseTo(5, offset(1e-6));
            assertThat(GradClip.clip(params, 1.0)).isCloseTo(5, offset(1e-6));
            assertThat(GradClip.globalNorm(params)).isCloseTo(1, offset(1e-6));
            assertThat(a.getGradient().toFloatArray()).containsExactly(new float[] {0.6f, 0}, offset(1e-6f));
            assertThat(GradClip.clip(params, 2.0)).isCloseTo(1, offset(1e-6)); // below the bound: unchanged
            assertThat(GradClip.globalNorm(params)).isCloseTo(1, offset(1e-6));
        }
    }

    @Test
    void adamwFirstStepMovesEachWeightByLrAndDecaysOnlyMatrices() {
        try (NDManager m = Djl.newManager()) {
            NDArray w = m.create(new float[][] {{1, -1}});
            NDArray bias = m.create(new float[] {1});
            var params = new java.util.LinkedHashMap<String, NDArray>();
            params.put("w", w);
            params.put("b", bias);
            params.values().forEach(p -> p.setRequiresGradient(true));
            try (var gc = ai.djl.engine.Engine.getEngine(Djl.ENGINE).newGradientCollector()) {
                gc.backward(w.sum().add(bias.sum()));
            }
            AdamW opt = new AdamW(m, params, 0.5);
            opt.step(params, 0.1);
            // bias-corrected first step: update = lr·g/|g| = 0.1; decay multiplies matrices by 1 − 0.1·0.5
            assertThat(w.toFloatArray()).containsExactly(new float[] {0.95f - 0.1f, -0.95f - 0.1f}, offset(1e-6f));
            assertThat(bias.toFloatArray()).containsExactly(new float[] {0.9f}, offset(1e-6f));
        }
    }

    /**
     * Ten steps of the fused update against AdamW written out in double precision (bias-corrected
     * moments, decoupled decay on matrices only), with new gradients every step: the folded bias
     * correction must be the textbook update, and each step must leave the gradients at zero.
     */
    @Test
    void adamwMatchesTheTextbookUpdateOverManyStepsAndZeroesGradients() {
        java.util.Random rnd = new java.util.Random(7);
        float[] w0 = new float[12];
        float[] b0 = new float[3];
        for (int i = 0; i < w0.length; i++) {
            w0[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < b0.length; i++) {
            b0[i] = (float) rnd.nextGaussian();
        }
        double lr = 0.01;
        double wd = 0.1;
        double[][] ref = {toDouble(w0), toDouble(b0)};
        double[][] mRef = {new double[w0.length], new double[b0.length]};
        double[][] vRef = {new double[w0.length], new double[b0.length]};
        try (NDManager m = Djl.newManager()) {
            NDArray w = m.create(w0, new ai.djl.ndarray.types.Shape(4, 3));
            NDArray bias = m.create(b0);
            var params = new java.util.LinkedHashMap<String, NDArray>();
            params.put("w", w);
            params.put("b", bias);
            params.values().forEach(p -> p.setRequiresGradient(true));
            AdamW opt = new AdamW(m, params, wd);
            for (int t = 1; t <= 10; t++) {
                float[] cw = new float[w0.length];
                float[] cb = new float[b0.length];
                for (int i = 0; i < cw.length; i++) {
                    cw[i] = (float) rnd.nextGaussian();
                }
                for (int i = 0; i < cb.length; i++) {
                    cb[i] = (float) rnd.nextGaussian();
                }
                // loss = sum(cw ⊙ w) + sum(cb ⊙ b): the gradients are cw and cb
                try (var gc = ai.djl.engine.Engine.getEngine(Djl.ENGINE).newGradientCollector();
                        NDManager scope = m.newSubManager()) {
                    NDArray loss = w.mul(scope.create(cw, w.getShape())).sum().add(bias.mul(scope.create(cb)).sum());
                    gc.backward(loss);
                }
                opt.step(params, lr);
                float[][] grads = {cw, cb};
                for (int k = 0; k < 2; k++) {
                    double c1 = 1 - Math.pow(AdamW.BETA1, t);
                    double c2 = 1 - Math.pow(AdamW.BETA2, t);
                    for (int i = 0; i < ref[k].length; i++) {
                        double g = grads[k][i];
                        mRef[k][i] = AdamW.BETA1 * mRef[k][i] + (1 - AdamW.BETA1) * g;
                        vRef[k][i] = AdamW.BETA2 * vRef[k][i] + (1 - AdamW.BETA2) * g * g;
                        double update = lr * (mRef[k][i] / c1) / (Math.sqrt(vRef[k][i] / c2) + AdamW.EPS);
                        ref[k][i] = (k == 0 ? ref[k][i] * (1 - lr * wd) : ref[k][i]) - update;
                    }
                }
                for (NDArray p : params.values()) {
                    try (NDArray g = p.getGradient()) {
                        assertThat(g.toFloatArray()).as("gradient after step %d", t).containsOnly(0f);
                    }
                }
            }
            float[] w1 = w.toFloatArray();
            float[] b1 = bias.toFloatArray();
            for (int i = 0; i < w1.length; i++) {
                assertThat((double) w1[i]).as("w[%d]", i).isCloseTo(ref[0][i], org.assertj.core.api.Assertions.within(2e-6));
            }
            for (int i = 0; i < b1.length; i++) {
                assertThat((double) b1[i]).as("b[%d]", i).isCloseTo(ref[1][i], org.assertj.core.api.Assertions.within(2e-6));
            }
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    @Test
    void batcherOrderIsAFunctionOfSeedAndPosition() {
        int[] tokens = GradientCheckTest.tokens();
        Batcher a = new Batcher(tokens, 16, 5, 0);
        a.next(3);
        Batcher.Batch second = a.next(2);
        Batcher b = new Batcher(tokens, 16, 5, 3);
        assertThat(b.next(2).inputs()).containsExactly(second.inputs());
        assertThat(new Batcher(tokens, 16, 6, 3).next(2).inputs()).isNotEqualTo(second.inputs());
        assertThat(second.targets()[0]).isEqualTo(second.inputs()[1]);
    }
}
