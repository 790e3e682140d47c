package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.upcycle.data.Batcher;
import dev.upcycle.io.DType;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.Djl;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every array a training step makes lives on the plan's device: the weights, AdamW's moments, the
 * gradients, and inside the step's scope the batch, the causal mask, the rotary tables, routing and
 * every activation. On a GPU an array made elsewhere would be a silent host copy or a device
 * mismatch; here the same code runs on the CPU plan and the same property is checked.
 */
class DevicePlacementTest {
    @TempDir
    Path tmp;

    @Test
    void everyArrayOfAStepIsOnThePlansDevice() {
        Path dense = TinyModels.random(tmp.resolve("dense"), "llama", DType.F32, b -> { });
        Path moe = TinyModels.upcycle(dense, tmp.resolve("moe"), "mixtral", 4, 2, -1);
        DevicePlan plan = DevicePlan.choose(TrainConfig.DeviceChoice.CPU, DeviceEnvironment.probe(false));
        TrainConfig c = DevicePlanTest.config(moe, 2, 16);
        try (NDManager root = Djl.newManager(plan.device()); CausalLm lm = CausalLm.load(moe, root)) {
            Map<String, NDArray> params = lm.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));
            AdamW opt = new AdamW(root, params, 0.1);
            Batcher data = new Batcher(GradientCheckTest.tokens(), 16, 1, 0);
            List<NDArray> inStep;
            try (GradientCollector collector = Djl.engine().newGradientCollector();
                 NDManager scope = lm.manager().newSubManager()) {
                AuxLosses routing = new AuxLosses(c.auxLoss(), c.zLoss(), 0);
                NDArray loss = TrainLoop.crossEntropy(lm, scope, data.next(c.batch()), routing)
                        .add(routing.loadBalancing()).add(routing.zLoss());
                collector.backward(loss);
                inStep = scope.getManagedArrays();
                assertThat(inStep).allSatisfy(a -> assertThat(a.getDevice()).isEqualTo(plan.device()));
            }
            // the batch, mask, rotary tables and activations of 2 layers: far more than a handful
            assertThat(inStep).hasSizeGreaterThan(50);
            GradClip.clip(params.values(), c.gradClip());
            opt.step(params, 1e-3);
            List<NDArray> kept = root.getManagedArrays();
            // parameters and both moments of each at least
            assertThat(kept).hasSizeGreaterThanOrEqualTo(3 * params.size());
            assertThat(kept).allSatisfy(a -> assertThat(a.getDevice()).isEqualTo(plan.device()));
            for (NDArray p : params.values()) {
                try (NDArray g = p.getGradient()) {
                    assertThat(g.getDevice()).isEqualTo(plan.device());
                }
            }
        }
    }
}
