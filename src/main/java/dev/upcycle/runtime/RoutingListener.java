package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/**
 * Receives each sparse layer's routing during a forward pass (auxiliary losses, expert-load
 * statistics), and each MoA layer's attention-router logits (its z-loss: docs/attention-experts.md,
 * "Training the routers").
 */
@FunctionalInterface
public interface RoutingListener {
    RoutingListener NONE = (layer, routing) -> { };

    void onRouting(int layer, Routing routing);

    /** The attention router's logits {@code [B, T, E_a]} of MoA layer {@code layer}; ignored by default. */
    default void onAttentionRouting(int layer, NDArray logits) {
    }
}
