package dev.upcycle.train;

import dev.upcycle.data.Batcher;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.upcycle.io.DType;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.Djl;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The forward pass is differentiable: autograd gradients match central finite differences (FP32). */
class GradientCheckTest {
    @TempDir
    Path tmp;

    @Test
    void denseLlamaGradientsMatchFiniteDifferences() {
        Path dir = TinyModels.random(tmp.resolve("llama"), "llama", DType.F32, b -> { });
        check(dir, 0, 0);
    }

    @Test
    void mixtralGradientsWithAuxAndZLossMatchFiniteDifferences() {
        Path dense = TinyModels.random(tmp.resolve("dense"), "llama", DType.F32, b -> { });
        Path moe = TinyModels.upcycle(dense, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        check(moe, 1e-2, 1e-3);
    }

    private static void check(Path dir, double alpha, double beta) {
        Batcher.Batch batch = new Batcher(tokens(), 12, 3, 0).next(2);
        try (CausalLm lm = CausalLm.load(dir)) {
            Map<String, NDArray> params = lm.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));
            double base;
            try (GradientCollector gc = Engine.getEngine(Djl.ENGINE).newGradientCollector();
                 NDManager scope = lm.manager().newSubManager()) {
                NDArray loss = loss(lm, scope, batch, alpha, beta);
                base = loss.getFloat();
                gc.backward(loss);
            }
            int checked = 0;
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                float[] grad = e.getValue().getGradient().toFloatArray();
                float[] w = e.getValue().toFloatArray();
                // the element with the largest gradient: the difference quotient is accurate there
                int at = 0;
                for (int i = 1; i < grad.length; i++) {
                    if (Math.abs(grad[i]) > Math.abs(grad[at])) {
                        at = i;
                    }
                }
                double h = 1e-2;
                double up = lossWith(lm, e.getValue(), w, at, w[at] + h, batch, alpha, beta);
                double down = lossWith(lm, e.getValue(), w, at, w[at] - h, batch, alpha, beta);
                e.getValue().set(w);
                double numeric = (up - down) / (2 * h);
                assertThat(grad[at]).as("%s[%d] (loss %f)", e.getKey(), at, base)
                        .isCloseTo((float) numeric, org.assertj.core.data.Offset.offset(
                                (float) (2e-3 + 0.03 * Math.abs(numeric))));
                checked++;
            }
            assertThat(checked).isGreaterThan(10);
        }
    }

    private static double lossWith(CausalLm lm, NDArray p, float[] w, int at, double value, Batcher.Batch batch,
                                   double alpha, double beta) {
        float[] changed = w.clone();
        changed[at] = (float) value;
        p.set(changed);
        try (NDManager scope = lm.manager().newSubManager()) {
            return loss(lm, scope, batch, alpha, beta).getFloat();
        }
    }

    private static NDArray loss(CausalLm lm, NDManager scope, Batcher.Batch batch, double alpha, double beta) {
        AuxLosses aux = new AuxLosses(alpha, beta);
        NDArray ce = TrainLoop.crossEntropy(lm, scope, batch, aux);
        return aux.any() ? ce.add(aux.loadBalancing()).add(aux.zLoss()) : ce;
    }

    static int[] tokens() {
        int[] t = new int[400];
        for (int i = 0; i < t.length; i++) {
            t[i] = (i * 31 + i / 7) % 97;
        }
        return t;
    }
}
