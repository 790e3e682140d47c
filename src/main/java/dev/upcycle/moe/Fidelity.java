package dev.upcycle.moe;

import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * Whether the upcycled model reproduces the dense model at step 0 (docs/method.md, "Exactness"), with
 * the reasons a user reads in {@code --dry-run}.
 *
 * @param verdict                exact, approximate or not preserving
 * @param reasons                full sentences explaining the verdict (never empty)
 * @param warnings               things that do not change step 0 but matter for training
 * @param expectedRelativeError  {@code max|y_moe - y_dense| / max|y_dense|} to expect at step 0:
 *                               0 for exact (up to rounding in the output dtype), the measured
 *                               worst case of docs/method.md, "Measured errors", where one is known,
 *                               empty otherwise
 * @param mainReason             the verdict's main reason in one short clause, for the one-line
 *                               message convert prints
 * @param exactWith              the options that, added to the user's, make step 0 exact (empty when
 *                               exact, or when no option does)
 */
public record Fidelity(Verdict verdict, List<String> reasons, List<String> warnings,
                       OptionalDouble expectedRelativeError, String mainReason, List<String> exactWith) {

    /** A verdict whose main reason is its first reason, with no known fix. */
    public Fidelity(Verdict verdict, List<String> reasons, List<String> warnings,
                    OptionalDouble expectedRelativeError) {
        this(verdict, reasons, warnings, expectedRelativeError, reasons.isEmpty() ? "" : reasons.get(0), List.of());
    }

    /** How closely step 0 matches the dense model. Declared from best to worst. */
    public enum Verdict {
        /** Equal up to floating-point rounding. */
        EXACT,
        /** Close, with an error that depends on the data or the scale. */
        APPROXIMATE,
        /** The function changes materially; no constant factor repairs it. */
        NOT_PRESERVING
    }

    public Fidelity {
        Objects.requireNonNull(verdict, "verdict");
        reasons = List.copyOf(reasons);
        warnings = List.copyOf(warnings);
        Objects.requireNonNull(expectedRelativeError, "expectedRelativeError");
        if (reasons.isEmpty()) {
            throw new IllegalArgumentException("a fidelity verdict needs at least one reason");
        }
        Objects.requireNonNull(mainReason, "mainReason");
        exactWith = List.copyOf(exactWith);
    }

    public boolean isExact() {
        return verdict == Verdict.EXACT;
    }
}
