package dev.upcycle.train;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.runtime.MemoryAvailable;
import dev.upcycle.runtime.MemoryEstimate;

/**
 * Where a training run computes and in what precision, and the memory its estimate is checked
 * against: the device's own. Every array of the run is made by a manager on {@link #device}
 * (weights, AdamW's moments, batches, masks, rotary tables, temporaries), so the choice is made
 * once, here.
 *
 * <p>Precision is FP32 on every device: weights (there is no separate master copy), gradients,
 * AdamW's moments and activations. BF16 arrays crashed the JVM in DJL (docs/design.md, "Working
 * with DJL") and DJL exposes no autocast, so a GPU trains in FP32 too; 16-bit checkpoints are
 * widened when read and rounded back when written.
 *
 * @param device where to compute
 * @param dtype  the precision of parameters, optimizer state and activations
 * @param memory what the estimate's native part must fit: the GPU's free memory, or the host's
 */
public record DevicePlan(Device device, DataType dtype, MemoryAvailable memory) {

    /**
     * {@code auto}: the first GPU when the engine sees one, else the CPU; {@code gpu}: the first
     * GPU, refused clearly without one; {@code cpu}: the CPU.
     */
    public static DevicePlan choose(TrainConfig.DeviceChoice choice, DeviceEnvironment env) {
        if (choice == TrainConfig.DeviceChoice.GPU && env.gpus() == 0) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--device gpu",
                    "DJL's PyTorch engine (" + env.engine() + ") sees no CUDA GPU",
                    "on a machine with an NVIDIA driver, point PYTORCH_LIBRARY_PATH at a CUDA libtorch or build "
                            + "with -Pcuda (docs/training.md, \"On a GPU\"); or pass --device cpu");
        }
        if (choice == TrainConfig.DeviceChoice.CPU || env.gpus() == 0) {
            return new DevicePlan(Device.cpu(), DataType.FLOAT32, env.host());
        }
        // The native part (weights, optimizer, activations, libtorch's slack) lives on the GPU; the
        // heap stays the host's.
        MemoryAvailable gpu = new MemoryAvailable(env.gpuFreeBytes(), env.host().heapBytes(),
                "free memory of GPU 0 of " + MemoryEstimate.gb(env.gpuTotalBytes()) + ", as CUDA reports it");
        return new DevicePlan(Device.gpu(0), DataType.FLOAT32, gpu);
    }
}
