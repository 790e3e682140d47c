package dev.upcycle.convert;

/**
 * One rounding from float64 into the output dtype (docs/formats.md, "Dtypes"). Scaled values are
 * computed in float64; the writer rounds floats to BF16/F16 with round-to-nearest-even. Rounding
 * float64 to float32 nearest-even first could round twice (a value just above a BF16 tie becomes the
 * tie, then rounds to even); rounding to float32 <em>to odd</em> keeps the final rounding correct,
 * because float32 has at least two more significand bits than BF16 or F16.
 */
final class Rounding {
    private Rounding() {
    }

    /**
     * @param narrow true when the float will be rounded again to BF16 or F16
     * @return {@code (float) x} (nearest even) for F32 output, else {@code x} rounded to float32 to odd
     */
    static float toFloat(double x, boolean narrow) {
        float f = (float) x;
        if (!narrow || (double) f == x || Float.isInfinite(f) || Double.isNaN(x)) {
            return f;
        }
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 1) == 0) {
            // Inexact with an even last bit: the other neighbour of x has the odd bit. The bits
            // are sign and magnitude, so that neighbour is one step up in magnitude when f lies
            // nearer zero than x, one step down otherwise (never 0: 0 is below every |x| > 0).
            return Float.intBitsToFloat(Math.abs(f) < Math.abs(x) ? bits + 1 : bits - 1);
        }
        return f;
    }
}
