package dev.upcycle.plan;

import dev.upcycle.io.DType;
import dev.upcycle.io.Shape;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.model.TensorRole;

/**
 * One output tensor of a plan.
 *
 * @param name   output tensor name (from the target family)
 * @param role   its role in the target family
 * @param layer  decoder layer, or -1
 * @param expert routed expert index, or -1
 * @param dtype  output dtype
 * @param shape  output shape
 * @param source where its values come from
 * @param shard  the output file it goes to
 */
public record PlannedTensor(String name, TensorRole role, int layer, int expert, DType dtype, Shape shape,
                            TensorSource source, String shard) {

    public TensorSpec spec() {
        return new TensorSpec(name, dtype, shape);
    }

    public long byteSize() {
        return shape.byteSize(dtype, name);
    }
}
