package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

/**
 * Runs each expert on the tokens dispatched to it, weighted by the routing weights. Experts
 * that receive no token are neither loaded nor run.
 *
 * <p>Tokens are gathered once, in expert order, so each expert reads a contiguous slice (a view,
 * no copy) and the routing weights are applied in one multiplication: one gather and one scatter
 * in the backward pass instead of one per expert.
 */
public final class Experts {
    private Experts() {
    }

    /**
     * @param x {@code [N, d]}
     * @return every slot's weighted expert output {@code [N·k, d]}, in expert order ({@link Dispatch#order})
     */
    public static NDArray compute(NDArray x, Routing routing, Dispatch dispatch, ExpertSource source) {
        NDManager scope = x.getManager();
        // Each token is gathered k times: Ops.rows keeps the sum of its k gradients in a fixed order.
        NDArray sorted = Ops.rows(x, scope.create(dispatch.tokensInOrder()));
        NDArray weights = routing.weights().reshape(-1).get(scope.create(dispatch.slotsInOrder())).expandDims(1);
        NDList outputs = new NDList();
        for (int e = 0; e < source.count(); e++) {
            if (dispatch.count(e) == 0) {
                continue;
            }
            NDArray rows = sorted.get(new NDIndex("{}:{}", dispatch.offsets()[e], dispatch.offsets()[e + 1]));
            // A streamed expert's weights live only while it runs; its output belongs to x's scope.
            try (NDManager expertScope = scope.newSubManager()) {
                outputs.add(source.expert(e, expertScope).forward(rows));
            }
        }
        NDArray all = outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(outputs);
        return all.mul(weights);
    }
}
