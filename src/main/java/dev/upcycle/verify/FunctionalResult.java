package dev.upcycle.verify;

import java.util.List;

/**
 * Dense against converted model, layer by layer, on fixed token sequences.
 *
 * @param against        the dense checkpoint
 * @param tolerance      the relative tolerance applied
 * @param toleranceBasis why that tolerance (the option, or the weight dtype)
 * @param lengths        lengths of the token sequences run
 * @param layerErrors    after each layer, {@code max|moe − dense| / max|dense|} over all sequences
 * @param logitsError    the same for the final logits
 * @param firstDivergent the first layer whose error exceeds the tolerance, or -1
 */
public record FunctionalResult(String against, double tolerance, String toleranceBasis, List<Integer> lengths,
                               List<Double> layerErrors, double logitsError, int firstDivergent) {

    public FunctionalResult {
        lengths = List.copyOf(lengths);
        layerErrors = List.copyOf(layerErrors);
    }

    public boolean passed() {
        return firstDivergent < 0 && logitsError <= tolerance;
    }
}
