package dev.upcycle.moe;

/**
 * Multiplicative factors applied to the dense weights, all in float64 and rounded once into the
 * output dtype (docs/formats.md, "Dtypes"). Factors for projections a family lacks (the gate of a plain
 * MLP) are 1.
 *
 * @param s                the output scale the routed experts must carry overall (docs/method.md,
 *                         "The output scale s")
 * @param cGate            factor on every routed expert's gate rows and gate bias
 * @param cUp              factor on every routed expert's up rows and up bias
 * @param cDown            factor on every routed expert's down columns; 0 when
 *                         {@code routedDownZeroed}
 * @param downBias         factor from the dense down bias {@code b_d} to each routed expert's down
 *                         bias: {@code s/G} (docs/method.md, "Biases"); 0 when a shared expert carries
 *                         the bias
 * @param sharedDown       factor on the shared expert's down columns and down bias: 2, undoing
 *                         the {@code sigmoid(0) = 1/2} gate (docs/method.md, "Shared experts"); 1
 *                         without a shared expert
 * @param routedDownZeroed true in {@link SharedExpertMode#FULL_COPY}: routed down projections are
 *                         written as zeros so that the shared copy alone reproduces the dense FFN
 */
public record ScaleFactors(double s, double cGate, double cUp, double cDown, double downBias, double sharedDown,
                           boolean routedDownZeroed) {

    public ScaleFactors {
        for (double v : new double[] {s, cGate, cUp, cDown, downBias, sharedDown}) {
            if (!Double.isFinite(v) || v < 0) {
                throw new IllegalArgumentException("scale factors must be finite and >= 0: " + v);
            }
        }
    }

    /**
     * The shared expert's gate and up projections are copied unscaled (docs/method.md,
     * "Shared experts").
     */
    public double sharedGateUp() {
        return 1.0;
    }

    /** The product {@code c_u * c_d} (plain) or {@code c_g * c_u * c_d} (gated), for plans. */
    public double product(boolean gated) {
        return (gated ? cGate : 1.0) * cUp * cDown;
    }
}
