package dev.upcycle.cli;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * {@code exp(loss)} for people and for JSON: plain with three decimals while it is below a
 * million, otherwise four significant digits in scientific notation, worked out from the loss in
 * base 10 so a random model's perplexity (e^200 and beyond, past what a double holds) prints as
 * a short number instead of ninety digits or infinity.
 */
final class Perplexity {
    /** Below this, perplexity prints plainly. */
    private static final double PLAIN_BELOW = 1e6;

    private Perplexity() {
    }

    static String text(double loss) {
        if (Double.isNaN(loss)) {
            return "NaN";
        }
        double ppl = Math.exp(loss);
        if (ppl < PLAIN_BELOW) {
            return String.format(Locale.ROOT, "%.3f", ppl);
        }
        if (Double.isInfinite(loss)) {
            return "infinite";
        }
        return scientific(loss, "e+");
    }

    /** A JSON number: the double itself while plain, else the scientific form; null for a NaN or infinite loss. */
    static BigDecimal json(double loss) {
        if (Double.isNaN(loss) || Double.isInfinite(loss)) {
            return null;
        }
        double ppl = Math.exp(loss);
        return ppl < PLAIN_BELOW ? new BigDecimal(ppl) : new BigDecimal(scientific(loss, "E"));
    }

    /** {@code m.mmm<sep>e} with {@code 10^e · m.mmm = exp(loss)}, e ≥ 6. */
    private static String scientific(double loss, String separator) {
        double log10 = loss / Math.log(10);
        long exponent = (long) Math.floor(log10);
        double mantissa = Math.round(Math.pow(10, log10 - exponent) * 1000) / 1000.0;
        if (mantissa >= 10) {
            mantissa = 1;
            exponent++;
        }
        return String.format(Locale.ROOT, "%.3f%s%d", mantissa, separator, exponent);
    }
}
