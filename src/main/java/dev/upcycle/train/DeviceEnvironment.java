package dev.upcycle.train;

import ai.djl.Device;
import ai.djl.util.cuda.CudaUtils;
import dev.upcycle.runtime.Djl;
import dev.upcycle.runtime.MemoryAvailable;
import java.lang.management.MemoryUsage;

/**
 * What the machine offers a training run: CUDA GPUs the engine sees (with the first one's memory)
 * and the host's memory. The one place that asks the engine and CUDA; {@link DevicePlan} decides
 * from this value alone, so tests fill it with "a GPU with N GiB" on a machine without one.
 *
 * @param engine        the engine's (libtorch's) version, for messages
 * @param gpus          CUDA devices the engine sees (0 with the CPU build of libtorch)
 * @param gpuTotalBytes GPU 0's memory in all (0 without a GPU)
 * @param gpuFreeBytes  GPU 0's memory not yet in use, as CUDA reports it (0 without a GPU)
 * @param host          the host's native memory and the Java heap's headroom
 */
public record DeviceEnvironment(String engine, int gpus, long gpuTotalBytes, long gpuFreeBytes, MemoryAvailable host) {

    /**
     * The engine's view; with {@code lookForGpus} false (--device cpu) the engine is not asked,
     * so a CPU run does not start it here.
     */
    public static DeviceEnvironment probe(boolean lookForGpus) {
        MemoryAvailable host = MemoryAvailable.probe();
        if (!lookForGpus) {
            return cpuOnly("not started", host);
        }
        int gpus = Djl.engine().getGpuCount();
        if (gpus == 0) {
            return cpuOnly(Djl.engineVersion(), host);
        }
        // DJL reads cudaMemGetInfo: max is the device's total, used what is taken (by any process)
        MemoryUsage u = CudaUtils.getGpuMemory(Device.gpu(0));
        return new DeviceEnvironment(Djl.engineVersion(), gpus, u.getMax(), Math.max(0, u.getMax() - u.getUsed()), host);
    }

    /** A machine without a GPU the engine can use. */
    public static DeviceEnvironment cpuOnly(String engine, MemoryAvailable host) {
        return new DeviceEnvironment(engine, 0, 0, 0, host);
    }
}
