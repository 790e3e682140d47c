package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * Runs each expert on the tokens dispatched to it, weighted by the routing weights. Experts
 * that receive no token are neither loaded nor run.
 */
public final class Experts {
    private Experts() {
    }

    /**
     * @param x {@code [N, d]}
     * @return each non-empty expert's weighted output {@code [n_e, d]}, in expert order
     */
    public static NDList compute(NDArray x, Routing routing, Dispatch dispatch, ExpertSource source) {
        NDManager scope = x.getManager();
        NDArray flatWeights = routing.weights().reshape(-1);
        NDList outputs = new NDList();
        for (int e = 0; e < source.count(); e++) {
            if (dispatch.count(e) == 0) {
                continue;
            }
            NDArray rows = x.get(scope.create(dispatch.tokens(e)));
            NDArray w = flatWeights.get(scope.create(dispatch.slots(e))).expandDims(1);
            // A streamed expert's weights live only while it runs; its output belongs to x's scope.
            try (NDManager expertScope = scope.newSubManager()) {
                outputs.add(source.expert(e, expertScope).forward(rows).mul(w));
            }
        }
        return outputs;
    }
}
