package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * One MoA layer's parameters (docs/attention-experts.md, "The soft mixture of attention"): the
 * attention router and each expert's attention. In the shared_kv variant every expert holds the same
 * key and value arrays.
 *
 * @param router  {@code [E_a, d]}
 * @param experts one attention per expert, in expert order
 */
public record MoaWeights(NDArray router, List<AttentionWeights> experts) {
    public MoaWeights {
        experts = List.copyOf(experts);
    }
}
