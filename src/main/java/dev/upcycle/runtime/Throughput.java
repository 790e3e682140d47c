package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.model.ModelConfig;

/** What the benches measure against: the engine's matmul rate and the matmul work of a model. */
public final class Throughput {
    private Throughput() {
    }

    /** FLOP/s of an {@code n×n} FP32 matmul in DJL, best of {@code reps} after two untimed ones. */
    public static double matmulCeiling(int n, int reps) {
        try (NDManager m = Djl.newManager()) {
            NDArray a = m.randomUniform(-1, 1, new Shape(n, n));
            NDArray b = m.randomUniform(-1, 1, new Shape(n, n));
            double best = Double.MAX_VALUE;
            for (int i = 0; i < reps + 2; i++) {
                long t0 = System.nanoTime();
                try (NDArray c = a.matMul(b)) {
                    c.getFloat(0, 0); // force completion
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (i >= 2) {
                    best = Math.min(best, s);
                }
            }
            return 2.0 * n * n * n / best;
        }
    }

    /**
     * The highest FLOP/s of square FP32 matmuls over {@code sizes}, each the best of {@code reps}:
     * an upper envelope, so one sample slowed by another process does not set the ceiling.
     */
    public static double matmulEnvelope(int reps, int... sizes) {
        double best = 0;
        for (int n : sizes) {
            best = Math.max(best, matmulCeiling(n, reps));
        }
        return best;
    }

    /** Matrix parameters one token passes through: attention, the MLP or k experts and the router, the head. */
    public static double activeMatmulParams(ModelConfig c) {
        double d = c.hiddenSize();
        double attention = d * c.headDim() * (2.0 * c.numAttentionHeads() + 2.0 * c.numKeyValueHeads());
        double total = 0;
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            double mlp;
            if (c.isSparseLayer(l)) {
                mlp = 3 * d * c.moe().expertWidth() * c.moe().numExpertsPerTok() + d * c.moe().numExperts();
            } else {
                mlp = 3 * d * c.intermediateSize();
            }
            total += attention + mlp;
        }
        return total + d * c.vocabSize();
    }

    /**
     * Forward FLOPs per token over windows of {@code seqLen}: {@code 2·N_active} for the matmul
     * weights plus {@code 4·L·T·h·hd} for attention scores and values over all {@code T}
     * positions (the runtime computes the masked half too).
     */
    public static double forwardFlopsPerToken(ModelConfig c, int seqLen) {
        return 2 * activeMatmulParams(c)
                + 4.0 * c.numHiddenLayers() * seqLen * c.numAttentionHeads() * c.headDim();
    }
}
