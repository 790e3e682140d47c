package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;

/** Small building blocks shared by the modules. */
final class Ops {
    private Ops() {
    }

    /**
     * {@code x · wᵀ + b}, PyTorch {@code nn.Linear}: {@code w} is {@code [out, in]}; {@code b} may be null.
     * An FP16 {@code w} (a model held in 16 bits) is widened to FP32 for this product only, so
     * the arithmetic is FP32 as for an FP32 model.
     */
    static NDArray linear(NDArray x, NDArray w, NDArray b) {
        // The transposed view (and a widened copy) is made by w's manager, which may hold the model
        // for its whole life and would keep the storage alive: free it as soon as it is used
        // (autograd keeps what it needs on the native side).
        NDArray wide = f32(w);
        NDArray wt = wide.transpose();
        NDArray y = x.matMul(wt);
        wt.close();
        if (wide != w) {
            wide.close();
        }
        return b == null ? y : y.add(b);
    }

    /** {@code a} itself when FP32, else a new FP32 copy in {@code a}'s manager (close it after use). */
    static NDArray f32(NDArray a) {
        return a.getDataType() == DataType.FLOAT32 ? a : a.toType(DataType.FLOAT32, true);
    }

    /**
     * Rows {@code indices} (int64, any shape) of the 2-D {@code table}, in the indices' manager:
     * libtorch's embedding. Its gradient adds each row's contributions in index order, one thread
     * per range of rows, so training is reproducible; the same gather by advanced indexing
     * ({@code table.get(indices)}) scatters its gradient with atomic adds in whatever order the
     * threads get there, and two identical training runs on 2 threads gave different weights
     * wherever a row was gathered three times or more (the embedding of a repeated token).
     */
    static NDArray rows(NDArray table, NDArray indices) {
        return indices.getNDArrayInternal().embedding(indices, table, SparseFormat.DENSE).singletonOrThrow();
    }

    /** {@code x · sigmoid(x)} (DJL has no fused silu). */
    static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** Index of the last axis (DJL's reductions want non-negative axes). */
    static int last(NDArray x) {
        return x.getShape().dimension() - 1;
    }

    /**
     * A scalar array in {@code like}'s manager (Java scalars inside autograd misbehave: docs/design.md,
     * "Working with DJL").
     */
    static NDArray scalar(NDArray like, double value) {
        return like.getManager().create((float) value);
    }
}
