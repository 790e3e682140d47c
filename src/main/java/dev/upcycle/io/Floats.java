package dev.upcycle.io;

/**
 * Exact bit-level conversions between F32, BF16 and F16 (docs/formats.md, "Dtypes"). Widening is
 * exact; narrowing rounds to nearest, ties to even; NaN stays NaN (quiet, sign kept).
 * Written by hand because Float.float16ToFloat only exists from JDK 20 and DJL crashes on
 * BF16 arrays.
 */
public final class Floats {
    private Floats() {
    }

    /** BF16 bits to float: the 16 bits become the high half of a binary32. */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Float to BF16 bits, round to nearest even; NaN forced quiet so it can never become Inf. */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return (short) (bits >>> 16);
    }

    /** F16 bits to float, exact for normals, subnormals, infinities and NaN payloads. */
    public static float f16ToF32(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // Subnormal: value = mant * 2^-24, exactly representable as a float.
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** As {@link #f16ToF32(short)}, looked up in a table of all 65536 results (built on first use): no branches. */
    public static float f16ToF32Table(short h) {
        return F16Table.VALUES[h & 0xFFFF];
    }

    private static final class F16Table {
        static final float[] VALUES = new float[1 << 16];

        static {
            for (int bits = 0; bits < VALUES.length; bits++) {
                VALUES[bits] = f16ToF32((short) bits);
            }
        }
    }

    /**
     * Float to F16 bits, round to nearest even. |x| >= 65520 becomes Inf (the IEEE result);
     * callers that must not overflow check {@link #overflowsF16(float)} first.
     */
    public static short f32ToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            // NaN: keep the top payload bits and force quiet.
            return (short) (sign | 0x7C00 | 0x0200 | ((abs >>> 13) & 0x3FF));
        }
        if (abs >= 0x477FF000) {
            // >= 65520 rounds past the max finite half (65504), or is Inf.
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x38800000) {
            // Below the smallest normal half (2^-14): subnormal or zero. The value in units of
            // 2^-24 is abs_value * 2^24; round that to nearest even.
            if (abs < 0x33000000) {
                // < 2^-25: rounds to zero (exactly 2^-25 is a tie and rounds to even, zero).
                return (short) sign;
            }
            int exp = abs >>> 23;
            int mant = (abs & 0x7FFFFF) | 0x800000;
            int shift = 126 - exp; // (mant * 2^(exp-150)) / 2^-24 = mant >> (126 - exp)
            int half = mant >>> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int rounded = abs + 0xFFF + ((abs >>> 13) & 1);
        int exp = (rounded >>> 23) - 112;
        int mant = (rounded >>> 13) & 0x3FF;
        return (short) (sign | (exp << 10) | mant);
    }

    /** True when {@code f} is finite but too large for F16 (it would become Inf). */
    public static boolean overflowsF16(float f) {
        return Float.isFinite(f) && (Float.floatToRawIntBits(f) & 0x7FFFFFFF) >= 0x477FF000;
    }

    /** True when {@code f} is finite but rounds past the max finite BF16. */
    public static boolean overflowsBf16(float f) {
        return Float.isFinite(f) && Float.isInfinite(bf16ToF32(f32ToBf16(f)));
    }

    /** Double to float, round to nearest even (Java's cast); overflow is the caller's check. */
    public static boolean overflowsF32(double d) {
        return Double.isFinite(d) && Float.isInfinite((float) d);
    }
}
