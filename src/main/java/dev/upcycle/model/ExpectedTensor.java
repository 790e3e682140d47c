package dev.upcycle.model;

import dev.upcycle.io.Shape;

/**
 * A tensor that a family and config promise.
 *
 * @param layer  the decoder layer, or -1 outside the layers
 * @param expert the routed expert, or -1 when the tensor is not per expert
 */
public record ExpectedTensor(String name, TensorRole role, int layer, int expert, Shape shape) {
}
