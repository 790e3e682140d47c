package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.Floats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The scale kernel against the reference path it replaces (decode to float, multiply in double,
 * {@link Rounding#toFloat} once, encode with nearest even): byte-identical for every 16-bit
 * pattern and for random F32 bits, NaN, Inf, subnormals and values near overflow included.
 */
class ScaleKernelTest {
    /** Factor 1 is a byte copy (tested below); through floats it would quiet signalling NaNs. */
    private static final double[] FACTORS = {0.0, -0.0, 0.5, 2.0, -1.0, 0.125, 0.35355339059327373,
            1.0 / 3, 2.8284271247461903, 1.00390625 + 0x1p-40, 1 - 0x1p-30, 1 + 0x1p-30, 1e-30, 1e30, 7.0,
            Math.sqrt(8), 1 / Math.sqrt(8), 65504.0 / 65503.0, 1.0000001};

    /** The old per-element path of PlanExecutor: FloatCodec.decode, scale(), FloatCodec.encode. */
    private static ByteBuffer reference(DType d, ByteBuffer src, double factor) {
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocate(in.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        boolean narrow = d != DType.F32;
        while (in.hasRemaining()) {
            float v = switch (d) {
                case BF16 -> Floats.bf16ToF32(in.getShort());
                case F16 -> Floats.f16ToF32(in.getShort());
                default -> in.getFloat();
            };
            if (factor != 1.0) {
                v = Rounding.toFloat(v * factor, narrow);
            }
            switch (d) {
                case BF16 -> out.putShort(Floats.f32ToBf16(v));
                case F16 -> {
                    if (Floats.overflowsF16(v)) {
                        return null; // the writer's DtypeOverflow
                    }
                    out.putShort(Floats.f32ToF16(v));
                }
                default -> out.putFloat(v);
            }
        }
        return out.flip();
    }

    private static ByteBuffer kernel(DType d, ByteBuffer src, double factor, int dstOffset) {
        ByteBuffer dst = ByteBuffer.allocateDirect(src.remaining() + dstOffset + 8).order(ByteOrder.BIG_ENDIAN);
        dst.position(dstOffset);
        ScaleKernel.of(d, factor).scale(src.duplicate(), dst, "test");
        return dst.flip().position(dstOffset);
    }

    private static ByteBuffer all16BitPatterns(int offset, boolean shuffled, Random rnd) {
        ByteBuffer b = ByteBuffer.allocate(offset + 2 * 65536).order(ByteOrder.LITTLE_ENDIAN);
        int[] bits = new int[65536];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = i;
        }
        for (int i = bits.length - 1; shuffled && i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = bits[i];
            bits[i] = bits[j];
            bits[j] = t;
        }
        b.position(offset);
        for (int x : bits) {
            b.putShort((short) x);
        }
        return b.flip().position(offset);
    }

    @Test
    void bf16EveryPatternEveryFactorIsByteIdentical() {
        Random rnd = new Random(11);
        for (double f : FACTORS) {
            ByteBuffer src = all16BitPatterns(2 * rnd.nextInt(4), true, rnd);
            assertThat(kernel(DType.BF16, src, f, 2 * rnd.nextInt(4))).as("factor " + f)
                    .isEqualTo(reference(DType.BF16, src, f));
        }
    }

    @Test
    void f16EveryPatternIsByteIdenticalOrOverflowsLikeTheWriter() {
        Random rnd = new Random(12);
        for (double f : FACTORS) {
            ByteBuffer src = all16BitPatterns(2 * rnd.nextInt(4), true, rnd);
            ByteBuffer want = reference(DType.F16, src, f);
            if (want == null) {
                assertThatThrownBy(() -> kernel(DType.F16, src, f, 0)).as("factor " + f)
                        .isInstanceOfSatisfying(UpcycleException.class,
                                e -> assertThat(e.kind()).isEqualTo(ErrorKind.DtypeOverflow));
                // Without the values that overflow, everything else matches.
                ByteBuffer finite = ByteBuffer.allocate(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = src.position(); i < src.limit(); i += 2) {
                    short x = src.getShort(i);
                    if (ScaleKernel.reference16(DType.F16, x & 0xFFFF, f) >= 0) {
                        finite.putShort(x);
                    }
                }
                finite.flip();
                assertThat(finite.remaining()).isLessThan(src.remaining());
                assertThat(kernel(DType.F16, finite, f, 2)).isEqualTo(reference(DType.F16, finite, f));
            } else {
                assertThat(kernel(DType.F16, src, f, 2 * rnd.nextInt(4))).as("factor " + f).isEqualTo(want);
            }
        }
    }

    @Test
    void f32RandomBitsAndSpecialValuesAreByteIdentical() {
        Random rnd = new Random(13);
        int[] special = {0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFC00123, 0x7F7FFFFF,
                0xFF7FFFFF, 0x00000001, 0x807FFFFF, 0x00800000, 0x3F800000, 0x3F800001, 0x7F7FFFFE, 0x1};
        for (double f : FACTORS) {
            int n = 50_000;
            int off = 4 * rnd.nextInt(3);
            ByteBuffer src = ByteBuffer.allocate(off + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
            src.position(off);
            for (int i = 0; i < n; i++) {
                int bits = switch (rnd.nextInt(4)) {
                    case 0 -> special[rnd.nextInt(special.length)];
                    case 1 -> rnd.nextInt() & 0x80FFFFFF; // subnormal and tiny
                    default -> rnd.nextInt();
                };
                src.putInt(bits);
            }
            src.flip().position(off);
            assertThat(kernel(DType.F32, src, f, 4 * rnd.nextInt(3))).as("factor " + f)
                    .isEqualTo(reference(DType.F32, src, f));
        }
    }

    @Test
    void factorOneIsAByteCopyEvenOfSignallingNaNs() {
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            ByteBuffer src = all16BitPatterns(0, false, new Random(1));
            assertThat(kernel(d, src, 1.0, 0)).isEqualTo(src);
        }
        ByteBuffer f32 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(0x7F800001).putInt(0xFFA00000).putInt(0x00000001).putInt(0x7F7FFFFF).flip();
        assertThat(kernel(DType.F32, f32, 1.0, 0)).isEqualTo(f32);
    }

    @Test
    void factorZeroGivesSignedZerosAndNaNForInfAndNaN() {
        ByteBuffer src = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) 0x3F80).putShort((short) 0xBF80).putShort((short) 0x7F80).putShort((short) 0x7FC1)
                .flip();
        ByteBuffer out = kernel(DType.BF16, src, 0.0, 0).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(out.getShort(0)).isEqualTo((short) 0x0000);
        assertThat(out.getShort(2)).isEqualTo((short) 0x8000);
        assertThat(Float.isNaN(Floats.bf16ToF32(out.getShort(4)))).isTrue();
        assertThat(Float.isNaN(Floats.bf16ToF32(out.getShort(6)))).isTrue();
        assertThat(out).isEqualTo(reference(DType.BF16, src, 0.0));
    }

    /** The round-to-odd of {@link Rounding}: a value just above a BF16 tie must round up, not to even. */
    @Test
    void justAboveATieRoundsOnceNotTwice() {
        double factor = 1.00390625 + 0x1p-40; // 1 + 2^-8 is the tie between BF16 1.0 and 1.0078125
        assertThat(Floats.f32ToBf16((float) factor)).isEqualTo((short) 0x3F80); // rounding twice: wrong
        assertThat(Floats.f32ToBf16(Rounding.toFloat(factor, true))).isEqualTo((short) 0x3F81);
        assertThat(ScaleKernel.reference16(DType.BF16, 0x3F80, factor)).isEqualTo(0x3F81);
        ByteBuffer one = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) 0x3F80);
        assertThat(kernel(DType.BF16, one, factor, 0).order(ByteOrder.LITTLE_ENDIAN).getShort(0))
                .isEqualTo((short) 0x3F81);
        // Below the tie, and an exact tie, stay at 1.0; F32 output rounds to nearest even, not to odd.
        assertThat(ScaleKernel.reference16(DType.BF16, 0x3F80, 1.00390625 - 0x1p-40)).isEqualTo(0x3F80);
        assertThat(ScaleKernel.reference16(DType.BF16, 0x3F80, 1.00390625)).isEqualTo(0x3F80);
        assertThat(Rounding.toFloat(1 + 0x1p-40, false)).isEqualTo(1.0f);
        assertThat(Rounding.toFloat(1 + 0x1p-40, true)).isEqualTo(Math.nextUp(1.0f));
    }

    @Test
    void scalesInPlace() {
        ByteBuffer src = all16BitPatterns(0, true, new Random(5));
        ByteBuffer want = reference(DType.BF16, src, 0.7);
        ByteBuffer b = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.LITTLE_ENDIAN).put(src.duplicate()).flip();
        ScaleKernel.of(DType.BF16, 0.7).scale(b.duplicate(), b.duplicate(), "test");
        assertThat(b).isEqualTo(want);
    }
}
