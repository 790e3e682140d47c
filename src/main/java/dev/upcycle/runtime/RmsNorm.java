package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/** RMSNorm as transformers computes it: {@code w · x / sqrt(mean(x²) + eps)} over the last axis, in FP32. */
public final class RmsNorm {
    private RmsNorm() {
    }

    public static NDArray apply(NDArray x, NDArray weight, double eps) {
        NDArray meanSquare = x.square().mean(new int[] {Ops.last(x)}, true);
        return x.div(meanSquare.add(Ops.scalar(x, eps)).sqrt()).mul(weight);
    }
}
