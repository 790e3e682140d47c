package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FloatsTest {

    @Test
    void everyBf16PatternRoundTrips() {
        for (int i = 0; i < 0x10000; i++) {
            short h = (short) i;
            float f = Floats.bf16ToF32(h);
            short back = Floats.f32ToBf16(f);
            if (Float.isNaN(f)) {
                assertThat(Float.isNaN(Floats.bf16ToF32(back))).as("NaN %04x", i).isTrue();
                assertThat(back & 0x8000).as("NaN sign %04x", i).isEqualTo(i & 0x8000);
            } else {
                assertThat(back & 0xFFFF).as("pattern %04x", i).isEqualTo(i);
            }
        }
    }

    @Test
    void everyF16PatternRoundTrips() {
        for (int i = 0; i < 0x10000; i++) {
            short h = (short) i;
            float f = Floats.f16ToF32(h);
            short back = Floats.f32ToF16(f);
            if (Float.isNaN(f)) {
                assertThat(Float.isNaN(Floats.f16ToF32(back))).as("NaN %04x", i).isTrue();
            } else {
                assertThat(back & 0xFFFF).as("pattern %04x", i).isEqualTo(i);
            }
        }
    }

    @Test
    void f16WideningIsExactAgainstDefinition() {
        // value = (-1)^s * 2^(e-15) * (1 + m/1024), subnormal 2^-14 * m/1024
        for (int i = 0; i < 0x10000; i++) {
            int e = (i >>> 10) & 0x1F;
            int m = i & 0x3FF;
            if (e == 0x1F) {
                continue;
            }
            double v = e == 0 ? Math.scalb((double) m, -24) : Math.scalb(1024.0 + m, e - 25);
            if ((i & 0x8000) != 0) {
                v = -v;
            }
            assertThat((double) Floats.f16ToF32((short) i)).as("pattern %04x", i).isEqualTo(v);
        }
    }

    @Test
    void bf16RoundsTiesToEven() {
        // 1.0 = 0x3F800000; one BF16 ulp at 1.0 is 2^-7, the tie is 2^-8.
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x3F808000))).isEqualTo((short) 0x3F80); // tie, even down
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x3F818000))).isEqualTo((short) 0x3F82); // tie, odd up
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x3F808001))).isEqualTo((short) 0x3F81); // above tie
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x3F807FFF))).isEqualTo((short) 0x3F80); // below tie
        // Max finite BF16 plus a tie rounds to Inf (IEEE), and a NaN never becomes Inf.
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x7F7F8000))).isEqualTo((short) 0x7F80);
        assertThat(Floats.overflowsBf16(Float.MAX_VALUE)).isTrue();
        short nan = Floats.f32ToBf16(Float.intBitsToFloat(0x7F800001));
        assertThat(Float.isNaN(Floats.bf16ToF32(nan))).isTrue();
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0xFF800001)) & 0x8000).isEqualTo(0x8000);
    }

    @Test
    void f16RoundsTiesToEven() {
        // 1.0 + 2^-11 is halfway between 1.0 (0x3C00) and 1.0 + 2^-10 (0x3C01): even is 0x3C00.
        assertThat(Floats.f32ToF16(1f + 0x1p-11f)).isEqualTo((short) 0x3C00);
        // 1.0 + 3*2^-11 is halfway between 0x3C01 and 0x3C02: even is 0x3C02.
        assertThat(Floats.f32ToF16(1f + 3 * 0x1p-11f)).isEqualTo((short) 0x3C02);
        assertThat(Floats.f32ToF16(1f + 0x1p-11f + 0x1p-20f)).isEqualTo((short) 0x3C01);
        // 2048 + 1 is a tie between 2048 and 2050 (ulp 2): even mantissa is 2048.
        assertThat(Floats.f16ToF32(Floats.f32ToF16(2049f))).isEqualTo(2048f);
        assertThat(Floats.f16ToF32(Floats.f32ToF16(2051f))).isEqualTo(2052f);
    }

    @Test
    void f16OverflowBoundary() {
        assertThat(Floats.f32ToF16(65504f)).isEqualTo((short) 0x7BFF);
        assertThat(Floats.f32ToF16(65519.99f)).isEqualTo((short) 0x7BFF);
        assertThat(Floats.overflowsF16(65519.99f)).isFalse();
        assertThat(Floats.f32ToF16(65520f)).isEqualTo((short) 0x7C00);
        assertThat(Floats.f32ToF16(-65520f)).isEqualTo((short) 0xFC00);
        assertThat(Floats.overflowsF16(65520f)).isTrue();
        assertThat(Floats.overflowsF16(Float.POSITIVE_INFINITY)).isFalse();
        assertThat(Floats.f32ToF16(Float.POSITIVE_INFINITY)).isEqualTo((short) 0x7C00);
        assertThat(Float.isNaN(Floats.f16ToF32(Floats.f32ToF16(Float.NaN)))).isTrue();
    }

    @Test
    void f16Subnormals() {
        assertThat(Floats.f32ToF16(0x1p-24f)).isEqualTo((short) 0x0001); // smallest subnormal
        assertThat(Floats.f32ToF16(0x1p-25f)).isEqualTo((short) 0x0000); // tie with 0: even is 0
        assertThat(Floats.f32ToF16(Math.nextUp(0x1p-25f))).isEqualTo((short) 0x0001);
        assertThat(Floats.f32ToF16(3 * 0x1p-25f)).isEqualTo((short) 0x0002); // 1.5 ulp: tie, even is 2
        assertThat(Floats.f32ToF16(-0x1p-24f)).isEqualTo((short) 0x8001);
        assertThat(Floats.f32ToF16(0x1p-14f - 0x1p-24f)).isEqualTo((short) 0x03FF); // largest subnormal
        assertThat(Floats.f32ToF16(0x1p-14f - 0x1p-26f)).isEqualTo((short) 0x0400); // rounds up to min normal
        assertThat(Floats.f32ToF16(-0f)).isEqualTo((short) 0x8000);
        assertThat(Floats.f16ToF32((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(Floats.f16ToF32((short) 0x03FF)).isEqualTo(0x1p-14f - 0x1p-24f);
    }

    @Test
    void bf16Subnormals() {
        assertThat(Floats.bf16ToF32((short) 0x0001)).isEqualTo(Float.intBitsToFloat(0x00010000));
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x00018000))).isEqualTo((short) 0x0002);
        assertThat(Floats.f32ToBf16(Float.intBitsToFloat(0x00008000))).isEqualTo((short) 0x0000);
    }

    @Test
    void f32ToF16AgreesWithDoubleRoundingOracle() {
        // Exhaustive over a sweep of float bit patterns: compare with a BigDecimal-free oracle that
        // picks the nearest of the two neighbouring halves (ties to even).
        for (int bits = 0; bits < 0x47800000; bits += 0x1F3) {
            float f = Float.intBitsToFloat(bits);
            short h = Floats.f32ToF16(f);
            if (Floats.overflowsF16(f)) {
                continue;
            }
            double got = Floats.f16ToF32(h);
            double below = Floats.f16ToF32((short) (h - 1 < 0 ? 0 : h - 1));
            double above = Floats.f16ToF32((short) (h + 1));
            double err = Math.abs(got - f);
            assertThat(err).as("bits %08x", bits).isLessThanOrEqualTo(Math.abs(below - f));
            if (h < 0x7BFF) {
                assertThat(err).as("bits %08x", bits).isLessThanOrEqualTo(Math.abs(above - f));
            }
        }
    }

    @Test
    void f16TableGivesTheBitsOfTheConversionForEveryPattern() {
        for (int bits = 0; bits < 1 << 16; bits++) {
            assertThat(Float.floatToRawIntBits(Floats.f16ToF32Table((short) bits))).as("F16 %04x", bits)
                    .isEqualTo(Float.floatToRawIntBits(Floats.f16ToF32((short) bits)));
        }
    }
}
