package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/**
 * One MoE layer's routing decision for {@code N} tokens.
 *
 * @param logits   router logits {@code [N, E]} (for the z-loss)
 * @param probs    softmax over all experts, FP32 {@code [N, E]} (for the load-balancing loss)
 * @param weights  the weights applied to the chosen experts {@code [N, k]}, renormalised when the
 *                 family says so
 * @param selected expert ids, {@code N·k} values, token-major
 * @param topK     k
 */
public record Routing(NDArray logits, NDArray probs, NDArray weights, long[] selected, int topK) {

    /** Tokens routed to each expert (length E). */
    public int[] load(int experts) {
        int[] n = new int[experts];
        for (long e : selected) {
            n[(int) e]++;
        }
        return n;
    }
}
