package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.Floats;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Rounding#toFloat} steps to the odd neighbour with branch-free bit arithmetic; it must give exactly the
 * bits of the implementation it replaced (Math.nextAfter towards x), on random doubles of every
 * magnitude, float32 halfway points and their neighbours, subnormals, zeros, NaN, infinities and
 * values past the float range. {@link Rounding#toBf16} must give the BF16 bits of that rounding
 * followed by nearest even, on the same values and on every BF16 halfway point and its neighbours.
 */
class RoundingTest {
    /** The former implementation, kept as the reference. */
    static float reference(double x, boolean narrow) {
        float f = (float) x;
        if (!narrow || (double) f == x || Float.isInfinite(f) || Double.isNaN(x)) {
            return f;
        }
        if ((Float.floatToRawIntBits(f) & 1) == 0) {
            f = Math.nextAfter(f, x);
        }
        return f;
    }

    private static void check(double x) {
        short bf16 = Floats.f32ToBf16(reference(x, true));
        assertThat(Integer.toHexString(Rounding.toBf16(x) & 0xFFFF)).as("BF16 of x = %s (%s)", x,
                Long.toHexString(Double.doubleToRawLongBits(x))).isEqualTo(Integer.toHexString(bf16 & 0xFFFF));
        for (boolean narrow : new boolean[] {true, false}) {
            int want = Float.floatToRawIntBits(reference(x, narrow));
            int got = Float.floatToRawIntBits(Rounding.toFloat(x, narrow));
            assertThat(Integer.toHexString(got)).as("x = %s (%s), narrow %s", x,
                    Long.toHexString(Double.doubleToRawLongBits(x)), narrow).isEqualTo(Integer.toHexString(want));
        }
    }

    @Test
    void specialValues() {
        double[] special = {0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
                Double.MIN_VALUE, -Double.MIN_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_VALUE / 2,
                Float.MIN_VALUE / 2 * 1.0000001, Float.MIN_VALUE * 0.75, Float.MIN_NORMAL, Float.MIN_NORMAL * (1 - 0x1p-30),
                Float.MAX_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE * (1 + 0x1p-26), Float.MAX_VALUE * (1 + 0x1p-24),
                Double.MAX_VALUE, 1e-300, -1e-300, 1.0, 1 + 0x1p-24, 1 + 0x1p-24 + 0x1p-50, 1 + 3 * 0x1p-24,
                Double.longBitsToDouble(0x7ff0000000000001L), Double.longBitsToDouble(0xfff8000000000123L)};
        for (double x : special) {
            check(x);
            check(-x);
        }
    }

    @Test
    void randomBitsOfEveryMagnitude() {
        Random rnd = new Random(42);
        for (int i = 0; i < 2_000_000; i++) {
            check(Double.longBitsToDouble(rnd.nextLong()));
        }
    }

    @Test
    void halfwayPointsAndTheirNeighbours() {
        Random rnd = new Random(43);
        for (int i = 0; i < 500_000; i++) {
            // A float (normal or subnormal), then the point halfway to its upper neighbour.
            float f = Float.intBitsToFloat(rnd.nextInt() & 0x7f7fffff);
            double mid = ((double) f + (double) Math.nextUp(f)) / 2;
            for (double x : new double[] {mid, Math.nextUp(mid), Math.nextDown(mid), f, Math.nextUp((double) f)}) {
                check(x);
                check(-x);
            }
        }
    }

    @Test
    void productsOfSixteenBitValuesAndScaleFactors() {
        Random rnd = new Random(44);
        double[] factors = {0.125, 2.8284271247461903, 1.0 / 3, 0.35355339059327373, 7.0, 1e-30, 1e30, 4.0};
        for (int i = 0; i < 1_000_000; i++) {
            float v = Float.intBitsToFloat((rnd.nextInt() & 0xFFFF) << 16); // a BF16 value, NaN and Inf included
            check(v * factors[i % factors.length]);
            check((v + Float.intBitsToFloat((rnd.nextInt() & 0xFFFF) << 16)) / 3.0); // a merge mean
        }
    }

    @Test
    void everyBf16HalfwayPointAndItsNeighbours() {
        for (int bits = 0; bits < 0x7F80; bits++) {
            double v = Floats.bf16ToF32((short) bits);
            // Above the largest BF16, the next step would be 2^128: its halfway point rounds to Inf.
            double next = bits == 0x7F7F ? 0x1p128 : Floats.bf16ToF32((short) (bits + 1));
            double mid = (v + next) / 2;
            for (double x : new double[] {v, mid, Math.nextUp(mid), Math.nextDown(mid), Math.nextUp(v), Math.nextDown(v)}) {
                check(x);
                check(-x);
            }
        }
    }
}
