package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/**
 * One layer's attention parameters; biases and q/k norms are null where the family and config
 * have none.
 *
 * @param q     {@code [h·hd, d]}
 * @param k     {@code [kv·hd, d]}
 * @param v     {@code [kv·hd, d]}
 * @param o     {@code [d, h·hd]}
 * @param qNorm Qwen3 per-head RMSNorm weight {@code [hd]}
 * @param kNorm Qwen3 per-head RMSNorm weight {@code [hd]}
 */
public record AttentionWeights(NDArray q, NDArray k, NDArray v, NDArray o, NDArray qBias, NDArray kBias,
                               NDArray vBias, NDArray oBias, NDArray qNorm, NDArray kNorm) {
}
