package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Collection;

/**
 * Global-norm gradient clipping, written out (docs/design.md, "Working with DJL": DJL's helpers did not
 * behave as documented): {@code n = sqrt(Σ_p ||g_p||²)}; when {@code n > max}, every gradient is scaled
 * by {@code max / n}, so the clipped global norm is exactly {@code max} (up to rounding).
 */
public final class GradClip {
    private GradClip() {
    }

    /**
     * The global norm of the gradients, each tensor's sum of squares added in double on the
     * gradients' device and read back once: a read per tensor would stop a GPU 65 times a step
     * for an 8-expert model.
     */
    public static double globalNorm(Collection<NDArray> parameters) {
        if (parameters.isEmpty()) {
            return 0;
        }
        NDManager m = parameters.iterator().next().getManager();
        try (NDManager scope = m.newSubManager()) {
            NDArray sum = scope.zeros(new Shape(), DataType.FLOAT64);
            for (NDArray p : parameters) {
                // each temporary closed at once: the squares of every gradient together would double their memory
                try (NDArray g = p.getGradient(); NDArray sq = g.square(); NDArray s = sq.sum();
                     NDArray wide = s.toType(DataType.FLOAT64, false)) {
                    NDArray next = sum.add(wide);
                    sum.close();
                    sum = next;
                }
            }
            return Math.sqrt(sum.getDouble());
        }
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
