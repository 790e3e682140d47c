package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import java.util.Collection;

/**
 * Global-norm gradient clipping, written out (docs/design.md, "Working with DJL": DJL's helpers did not
 * behave as documented): {@code n = sqrt(Σ_p ||g_p||²)}; when {@code n > max}, every gradient is scaled
 * by {@code max / n}, so the clipped global norm is exactly {@code max} (up to rounding).
 */
public final class GradClip {
    private GradClip() {
    }

    /** The global norm of the gradients, summed in double. */
    public static double globalNorm(Collection<NDArray> parameters) {
        double sum = 0;
        for (NDArray p : parameters) {
            try (NDArray g = p.getGradient(); NDArray sq = g.square(); NDArray s = sq.sum()) {
                sum += s.getFloat();
            }
        }
        return Math.sqrt(sum);
    }

    /**
     * Scales the gradients in place when their global norm is above {@code max} (0: never).
     *
     * @return the norm before clipping
     */
    public static double clip(Collection<NDArray> parameters, double max) {
        double norm = globalNorm(parameters);
        if (max > 0 && norm > max && Double.isFinite(norm)) {
            float scale = (float) (max / norm);
            for (NDArray p : parameters) {
                try (NDArray g = p.getGradient()) {
                    g.muli(scale);
                }
            }
        }
        return norm;
    }
}
