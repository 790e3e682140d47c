package dev.upcycle.io;

import java.util.List;

/**
 * One output file of a (possibly sharded) checkpoint.
 *
 * @param fileName  {@code model.safetensors} or {@code model-00001-of-00003.safetensors}
 * @param tensors   its tensors in state-dict order (the writer reorders them by dtype and name)
 * @param byteSize  sum of tensor bytes, headers not counted (as transformers counts)
 */
public record ShardPlan(String fileName, List<TensorSpec> tensors, long byteSize) {
    public ShardPlan {
        tensors = List.copyOf(tensors);
    }
}
