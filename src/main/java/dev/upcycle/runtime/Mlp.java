package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/**
 * A SwiGLU feed-forward block, dense MLP or one expert: {@code down(silu(gate x) · up x)}.
 * Biases are null except for Llama with {@code mlp_bias}.
 *
 * @param gate {@code [f, d]}
 * @param up   {@code [f, d]}
 * @param down {@code [d, f]}
 */
public record Mlp(NDArray gate, NDArray up, NDArray down, NDArray gateBias, NDArray upBias, NDArray downBias) {

    public static Mlp of(NDArray gate, NDArray up, NDArray down) {
        return new Mlp(gate, up, down, null, null, null);
    }

    /** {@code x [..., d]} → {@code [..., d]}. */
    public NDArray forward(NDArray x) {
        NDArray h = Ops.silu(Ops.linear(x, gate, gateBias)).mul(Ops.linear(x, up, upBias));
        return Ops.linear(h, down, downBias);
    }
}
