package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/**
 * One sparse layer's parameters.
 *
 * @param router       {@code [E, d]}
 * @param experts      the routed experts
 * @param shared       Qwen2-MoE shared expert, or null
 * @param sharedRouter Qwen2-MoE {@code shared_expert_gate} {@code [1, d]}, or null
 */
public record MoeWeights(NDArray router, ExpertSource experts, Mlp shared, NDArray sharedRouter) {
}
