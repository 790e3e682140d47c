package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * Gating and routing (docs/formats.md, "Output families"): {@code p = softmax_f32(x · gateᵀ)} over all
 * E experts, the top-k of {@code p}, divided by their sum when {@code normTopkProb} (always for
 * Mixtral). Tie-breaking is PyTorch's {@code topk}.
 */
public final class Router {
    private final int topK;
    private final boolean normTopkProb;

    public Router(int topK, boolean normTopkProb) {
        this.topK = topK;
        this.normTopkProb = normTopkProb;
    }

    /** @param x {@code [N, d]}; @param gate {@code [E, d]} */
    public Routing route(NDArray x, NDArray gate) {
        NDArray logits = Ops.linear(x, gate, null);
        NDArray probs = logits.softmax(1);
        NDList top = probs.topK(topK, 1, true, true);
        NDArray weights = top.get(0);
        if (normTopkProb) {
            weights = weights.div(weights.sum(new int[] {1}, true));
        }
        return new Routing(logits, probs, weights, top.get(1).toLongArray(), topK);
    }
}
