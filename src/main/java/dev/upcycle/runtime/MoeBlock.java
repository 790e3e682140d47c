package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/**
 * A sparse MoE feed-forward block: route → dispatch → compute → combine, plus Qwen2-MoE's
 * shared expert {@code sigmoid(x · gᵀ) · shared(x)}.
 */
public final class MoeBlock {
    private final Router router;

    public MoeBlock(Router router) {
        this.router = router;
    }

    /** Output and routing of one block. */
    public record Result(NDArray output, Routing routing) {
    }

    /** @param x {@code [B, T, d]} */
    public Result forward(MoeWeights w, NDArray x) {
        long[] dims = x.getShape().getShape();
        long hidden = dims[dims.length - 1];
        NDArray flat = x.reshape(-1, hidden);
        long tokens = flat.getShape().get(0);
        Routing routing = router.route(flat, w.router());
        Dispatch dispatch = Dispatcher.group(routing.selected(), w.experts().count(), routing.topK());
        NDArray out = Dispatcher.combine(dispatch, Experts.compute(flat, routing, dispatch, w.experts()),
                tokens, hidden);
        if (w.shared() != null) {
            NDArray gate = Activation.sigmoid(Ops.linear(flat, w.sharedRouter(), null));
            out = out.add(w.shared().forward(flat).mul(gate));
        }
        return new Result(out.reshape(dims), routing);
    }
}
