package dev.upcycle.verify;

import java.util.List;

/**
 * Dense against converted model, layer by layer, on fixed token sequences.
 *
 * @param against        the dense checkpoint
 * @param tolerance      the relative bound applied; NaN when the measurement is held to none
 * @param toleranceBasis why that bound (the option, the plan, the weight dtype), or why none
 * @param lengths        lengths of the token sequences run
 * @param layerErrors    after each layer, {@code max|moe − dense| / max|dense|} over all sequences
 * @param logitsError    the same for the final logits
 * @param firstDivergent the first layer whose error exceeds the tolerance, or -1
 * @param verdict        the plan's step-0 verdict ({@code exact}, {@code approximate},
 *                       {@code not function-preserving}), or null when no plan was found
 * @param predictedError the plan's predicted relative error, or null when it predicts none
 */
public record FunctionalResult(String against, double tolerance, String toleranceBasis, List<Integer> lengths,
                               List<Double> layerErrors, double logitsError, int firstDivergent, String verdict,
                               Double predictedError) {

    public FunctionalResult {
        lengths = List.copyOf(lengths);
        layerErrors = List.copyOf(layerErrors);
    }

    public FunctionalResult(String against, double tolerance, String toleranceBasis, List<Integer> lengths,
                            List<Double> layerErrors, double logitsError, int firstDivergent) {
        this(against, tolerance, toleranceBasis, lengths, layerErrors, logitsError, firstDivergent, null, null);
    }

    /** Whether the measurement is held to a bound at all. */
    public boolean bounded() {
        return !Double.isNaN(tolerance);
    }

    /** The largest error measured, over every layer and the logits (NaN when any is NaN). */
    public double worstError() {
        double w = logitsError;
        for (double e : layerErrors) {
            w = Double.isNaN(e) || Double.isNaN(w) ? Double.NaN : Math.max(w, e);
        }
        return w;
    }

    public boolean passed() {
        return !bounded() || firstDivergent < 0 && logitsError <= tolerance;
    }
}
