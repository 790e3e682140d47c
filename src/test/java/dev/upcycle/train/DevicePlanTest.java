package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.upcycle.data.TokenSource;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.MemoryAvailable;
import dev.upcycle.runtime.MemoryEstimate;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Device choice, precision and the memory check of {@code train}, on environments filled in by
 * hand: "a GPU with N GiB" is tested on a machine without one.
 */
class DevicePlanTest {
    private static final long GIB = 1L << 30;
    /** A host with plenty of memory and heap. */
    private static final MemoryAvailable HOST = new MemoryAvailable(100 * GIB, 8 * GIB, "MemAvailable");

    @TempDir
    Path tmp;

    private static DeviceEnvironment gpu(long totalBytes, long freeBytes) {
        return new DeviceEnvironment("2.5.1", 1, totalBytes, freeBytes, HOST);
    }

    @Test
    void autoTakesTheFirstGpuAndItsFreeMemory() {
        DevicePlan p = DevicePlan.choose(TrainConfig.DeviceChoice.AUTO, gpu(80 * GIB, 79 * GIB));
        assertThat(p.device()).isEqualTo(Device.gpu(0));
        assertThat(p.dtype()).isEqualTo(DataType.FLOAT32);
        assertThat(p.memory().nativeBytes()).isEqualTo(79 * GIB);
        // the heap stays the host's: Java reads and writes the checkpoints
        assertThat(p.memory().heapBytes()).isEqualTo(HOST.heapBytes());
        assertThat(p.memory().source()).isEqualTo("free memory of GPU 0 of 85.9 GB, as CUDA reports it");
        assertThat(DevicePlan.choose(TrainConfig.DeviceChoice.GPU, gpu(80 * GIB, 79 * GIB))).isEqualTo(p);
    }

    @Test
    void theCpuWhenAskedOrWhenNoGpuIsSeen() {
        DevicePlan asked = DevicePlan.choose(TrainConfig.DeviceChoice.CPU, gpu(80 * GIB, 79 * GIB));
        DevicePlan none = DevicePlan.choose(TrainConfig.DeviceChoice.AUTO, DeviceEnvironment.cpuOnly("2.7.1", HOST));
        for (DevicePlan p : new DevicePlan[] {asked, none}) {
            assertThat(p.device()).isEqualTo(Device.cpu());
            assertThat(p.dtype()).isEqualTo(DataType.FLOAT32);
            assertThat(p.memory()).isEqualTo(HOST);
        }
    }

    @Test
    void gpuWithoutOneIsRefusedNamingTheEngine() {
        assertThatThrownBy(() -> DevicePlan.choose(TrainConfig.DeviceChoice.GPU, DeviceEnvironment.cpuOnly("2.7.1", HOST)))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.line()).contains("--device gpu", "DJL's PyTorch engine (2.7.1) sees no CUDA GPU");
                });
    }

    @Test
    void theEstimateIsCheckedAgainstTheGpusFreeMemoryNotTheHosts() {
        Path model = TinyModels.random(tmp.resolve("m"), "llama", DType.F32, b -> { });
        TrainConfig c = config(model, 16, 32);
        MemoryEstimate e = MemoryEstimate.train(CausalLm.configOf(model), 16, 32);
        long need = e.nativeBytes();
        // FP32 everywhere, as the plan says: gradients and both moments take three times the weights
        assertThat(e.optimizer()).isEqualTo(3 * e.weights());
        assertThat(e.weights() % DataType.FLOAT32.getNumOfBytes()).isZero();

        assertThatCode(() -> TrainLoop.requireFits(c, DevicePlan.choose(TrainConfig.DeviceChoice.AUTO, gpu(80 * GIB, need))))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> TrainLoop.requireFits(c,
                DevicePlan.choose(TrainConfig.DeviceChoice.AUTO, gpu(80 * GIB, need - 1))))
                .isInstanceOfSatisfying(UpcycleException.class, x -> {
                    assertThat(x.kind()).isEqualTo(ErrorKind.OutOfMemory);
                    assertThat(x.why()).contains("is available (free memory of GPU 0 of 85.9 GB, as CUDA reports it)");
                });
        // the same run on a CPU plan is checked against the host: a host short of memory refuses it
        MemoryAvailable smallHost = new MemoryAvailable(need - 1, 8 * GIB, "MemAvailable");
        assertThatThrownBy(() -> TrainLoop.requireFits(c, DevicePlan.choose(TrainConfig.DeviceChoice.CPU,
                new DeviceEnvironment("2.5.1", 1, 80 * GIB, 80 * GIB, smallHost))))
                .isInstanceOfSatisfying(UpcycleException.class, x -> assertThat(x.why()).contains("(MemAvailable)"));
        // and a GPU plan on that host is not held back by the host's native memory
        assertThatCode(() -> TrainLoop.requireFits(c, DevicePlan.choose(TrainConfig.DeviceChoice.AUTO,
                new DeviceEnvironment("2.5.1", 1, 80 * GIB, 80 * GIB, smallHost)))).doesNotThrowAnyException();
    }

    static TrainConfig config(Path model, int batch, int seqLen) {
        return new TrainConfig(model, new TokenSource(model, null, true, null), null, model.resolveSibling("out"), 10,
                batch, seqLen, 1, 1e-3, 1e-4, 0, TrainConfig.Schedule.COSINE, 0.1, 1e-2, 1e-3, 1.0, 0, 2, 0, 1, null,
                TrainConfig.DeviceChoice.AUTO, 1, false);
    }
}
