package dev.upcycle.model;

/**
 * A tensor name parsed back into its coordinates ({@link Family#roleOf(String)}).
 *
 * @param layer  the decoder layer, or -1 outside the layers
 * @param expert the routed expert, or -1 when the tensor is not per expert
 */
public record TensorId(TensorRole role, int layer, int expert) {
}
