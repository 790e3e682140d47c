package dev.upcycle.convert;

import dev.upcycle.io.Floats;

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
        return narrow ? Float.intBitsToFloat(toOddBits(x)) : (float) x;
    }

    /**
     * The bits of {@code x} rounded to float32 to odd; NaN, and Inf (also where {@code x} overflows
     * float32), are those of {@code (float) x}. Without data-dependent branches: the merges and the
     * scale tables call it for every element, and which way a value rounds is random.
     */
    static int toOddBits(double x) {
        float f = (float) x;
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7F800000) == 0x7F800000) {
            return bits;
        }
        // Sign and magnitude: when f lies above x in magnitude, the neighbour below is bits - 1.
        // That truncated value, with its last bit set when f is inexact, is the odd neighbour
        // (never below 0: 0 lies below every |x| > 0).
        long dx = Double.doubleToRawLongBits(x) & Long.MAX_VALUE;
        long df = Double.doubleToRawLongBits(f) & Long.MAX_VALUE;
        return (bits - (df > dx ? 1 : 0)) | (df != dx ? 1 : 0);
    }

    /**
     * {@code x} rounded once to BF16 bits (nearest even), what {@code Floats.f32ToBf16(toFloat(x, true))}
     * gives, straight from the float64 bits: the rounding of the float64 significand at BF16's
     * last bit, the exponent rebiased, past the largest BF16 Inf; below the smallest normal
     * (2^-126) adding 2^-81 rounds |x| to a multiple of 2^-133, BF16's subnormal step, and the
     * steps are the bits. NaN keeps the float route (its payload bits).
     */
    static short toBf16(double x) {
        long bits = Double.doubleToRawLongBits(x);
        long abs = bits & Long.MAX_VALUE;
        if (abs > 0x7FF0000000000000L) {
            return Floats.f32ToBf16((float) x);
        }
        int sign = (int) (bits >>> 48) & 0x8000;
        if (abs < 0x3810000000000000L) {
            return (short) (sign | (int) (Double.doubleToRawLongBits(Double.longBitsToDouble(abs) + 0x1p-81)
                    - Double.doubleToRawLongBits(0x1p-81)));
        }
        long m = ((abs + 0x00000FFFFFFFFFFFL + ((abs >>> 45) & 1)) >>> 45) - ((1023L - 127) << 7);
        return (short) (sign | (int) Math.min(m, 0x7F80));
    }
}
