package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/** Small building blocks shared by the modules. */
final class Ops {
    private Ops() {
    }

    /** {@code x · wᵀ + b}, PyTorch {@code nn.Linear}: {@code w} is {@code [out, in]}; {@code b} may be null. */
    static NDArray linear(NDArray x, NDArray w, NDArray b) {
        // The transposed view is made by w's manager (which may hold the model for its whole
        // life) and would keep a streamed weight's storage alive: free it as soon as it is used
        // (autograd keeps what it needs on the native side).
        NDArray wt = w.transpose();
        NDArray y = x.matMul(wt);
        wt.close();
        return b == null ? y : y.add(b);
    }

    /** {@code x · sigmoid(x)} (DJL has no fused silu). */
    static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** Index of the last axis (DJL's reductions want non-negative axes). */
    static int last(NDArray x) {
        return x.getShape().dimension() - 1;
    }

    /** A scalar array in {@code like}'s manager (Java scalars inside autograd misbehave, djl-notes.md). */
    static NDArray scalar(NDArray like, double value) {
        return like.getManager().create((float) value);
    }
}
