package dev.upcycle.train;

import dev.upcycle.data.Batcher;
import dev.upcycle.data.TokenSource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import dev.upcycle.io.DType;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two micro-batches of 2 give the gradient of one batch of 4 (same windows), and gradients do not leak across steps. */
class AccumulationTest {
    @TempDir
    Path tmp;

    @Test
    void accumulatedGradientsEqualTheFullBatchGradient() {
        Path dense = TinyModels.random(tmp.resolve("dense"), "llama", DType.F32, b -> { });
        Path moe = TinyModels.upcycle(dense, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        try (CausalLm lm = CausalLm.load(moe)) {
            Map<String, NDArray> params = lm.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));
            TrainLoop.StepLosses full = TrainLoop.forwardBackward(lm, new Batcher(GradientCheckTest.tokens(), 16, 1, 0),
                    config(moe, 4, 1));
            double fullNorm = GradClip.globalNorm(params.values());
            AdamW.zeroGradients(params.values());
            TrainLoop.StepLosses acc = TrainLoop.forwardBackward(lm, new Batcher(GradientCheckTest.tokens(), 16, 1, 0),
                    config(moe, 2, 2));
            double accNorm = GradClip.globalNorm(params.values());
            assertThat(acc.loss()).isCloseTo(full.loss(), offset(1e-5));
            assertThat(accNorm).isCloseTo(fullNorm, offset(1e-5 * fullNorm));
            // a second step after zeroing sees only its own gradient
            AdamW.zeroGradients(params.values());
            TrainLoop.forwardBackward(lm, new Batcher(GradientCheckTest.tokens(), 16, 1, 0), config(moe, 4, 1));
            assertThat(GradClip.globalNorm(params.values())).isCloseTo(fullNorm, offset(1e-6 * fullNorm));
        }
    }

    private static TrainConfig config(Path model, int batch, int accumulate) {
        return new TrainConfig(model, new TokenSource(model, null, true, null), null, model, 10, batch, 16, accumulate,
                1e-3, 1e-4, 0, TrainConfig.Schedule.COSINE, 0.1, 1e-2, 1e-3, 1.0, 0, 2, 0, 1, null,
                TrainConfig.DeviceChoice.CPU, 1, false);
    }
}
