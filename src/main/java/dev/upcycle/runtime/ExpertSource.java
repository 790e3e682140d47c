package dev.upcycle.runtime;

import ai.djl.ndarray.NDManager;

/**
 * Where an MoE layer's routed experts come from: held in memory ({@link #resident}) or read
 * from the checkpoint into the caller's scope when an expert receives tokens, so a streaming
 * pass holds one expert at a time.
 */
public interface ExpertSource {
    int count();

    /** Expert {@code e}; arrays it has to create belong to {@code scope}. */
    Mlp expert(int e, NDManager scope);

    static ExpertSource resident(java.util.List<Mlp> experts) {
        java.util.List<Mlp> copy = java.util.List.copyOf(experts);
        return new ExpertSource() {
            @Override
            public int count() {
                return copy.size();
            }

            @Override
            public Mlp expert(int e, NDManager scope) {
                return copy.get(e);
            }
        };
    }
}
