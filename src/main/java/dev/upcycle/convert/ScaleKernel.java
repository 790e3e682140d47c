package dev.upcycle.convert;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.Floats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Scales little-endian BF16, F16 or F32 element bytes by a factor into the same dtype, in one
 * tight loop over byte buffers, giving exactly the bytes of the reference path (decode to float,
 * {@code Rounding.toFloat((double) v * factor)}, encode with round to nearest even).
 *
 * <p>For 16-bit dtypes the result depends only on the 16 input bits, so the kernel is a table of
 * all 65536 results, each computed by {@link #reference16}: byte-identical by construction, NaN,
 * Inf, subnormals and overflow included. F32 does the reference arithmetic inline. A factor of
 * exactly 1 is a byte copy (the plan copies bytes for it too).
 */
final class ScaleKernel {
    private final DType dtype;
    private final double factor;
    private final short[] table;
    /** F16 only: input bits whose scaled value overflows F16 (a DtypeOverflow); null when none do. */
    private final boolean[] overflows;

    private ScaleKernel(DType dtype, double factor) {
        this.dtype = dtype;
        this.factor = factor;
        if (dtype == DType.F32 || factor == 1.0) {
            table = null;
            overflows = null;
            return;
        }
        table = new short[1 << 16];
        boolean[] over = new boolean[1 << 16];
        boolean any = false;
        for (int bits = 0; bits < 1 << 16; bits++) {
            int r = reference16(dtype, bits, factor);
            if (r < 0) {
                over[bits] = true;
                any = true;
            } else {
                table[bits] = (short) r;
            }
        }
        overflows = any ? over : null;
    }

    /** True when the kernel handles {@code in} scaled into {@code out}. */
    static boolean supports(DType in, DType out) {
        return in == out && (in == DType.BF16 || in == DType.F16 || in == DType.F32);
    }

    /** A kernel for {@code dtype} (BF16, F16, F32) and {@code factor}; building a 16-bit one takes about a millisecond. */
    static ScaleKernel of(DType dtype, double factor) {
        if (!supports(dtype, dtype)) {
            throw new IllegalArgumentException("no scale kernel for " + dtype);
        }
        return new ScaleKernel(dtype, factor);
    }

    DType dtype() {
        return dtype;
    }

    double factor() {
        return factor;
    }

    /**
     * The reference result for one 16-bit element: the output bits, or -1 when the value
     * overflows F16 (the writer refuses it).
     */
    static int reference16(DType dtype, int bits, double factor) {
        boolean bf = dtype == DType.BF16;
        float v = bf ? Floats.bf16ToF32((short) bits) : Floats.f16ToF32((short) bits);
        float f = factor == 1.0 ? v : Rounding.toFloat(v * factor, true);
        if (!bf && Floats.overflowsF16(f)) {
            return -1;
        }
        return (bf ? Floats.f32ToBf16(f) : Floats.f32ToF16(f)) & 0xFFFF;
    }

    /**
     * Scales every element of {@code src} (position to limit) into {@code dst} at its position;
     * both positions advance. {@code dst} must have room for as many bytes.
     *
     * @param where for the DtypeOverflow error of an F16 value scaled past 65504
     */
    void scale(ByteBuffer src, ByteBuffer dst, String where) {
        int n = src.remaining();
        int w = dtype.bytes();
        if (n % w != 0) {
            throw new IllegalArgumentException(n + " bytes is not a whole number of " + dtype + " elements");
        }
        if (dst.remaining() < n) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, needs " + n);
        }
        if (factor == 1.0) {
            dst.put(src);
            return;
        }
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int s = in.position();
        int d = out.position();
        if (dtype == DType.F32) {
            f32(in, s, out, d, n, factor);
        } else {
            if (overflows != null) {
                checkOverflow(in, s, n, where);
            }
            table16(in, s, out, d, n, table);
        }
        src.position(src.position() + n);
        dst.position(dst.position() + n);
    }

    private void checkOverflow(ByteBuffer in, int s, int n, String where) {
        for (int i = 0; i < n; i += 2) {
            int bits = in.getShort(s + i) & 0xFFFF;
            if (overflows[bits]) {
                float v = Floats.f16ToF32((short) bits);
                float f = Rounding.toFloat(v * factor, true);
                throw new UpcycleException(ErrorKind.DtypeOverflow, where, "value " + f + " at element " + i / 2
                        + " of this write exceeds the F16 range (max 65504)");
            }
        }
    }

    /** Four elements per step through one long load and store; the table stays in L2. */
    private static void table16(ByteBuffer in, int s, ByteBuffer out, int d, int n, short[] t) {
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long x = in.getLong(s + i);
            long y = (t[(int) x & 0xFFFF] & 0xFFFFL)
                    | (t[(int) (x >>> 16) & 0xFFFF] & 0xFFFFL) << 16
                    | (t[(int) (x >>> 32) & 0xFFFF] & 0xFFFFL) << 32
                    | (t[(int) (x >>> 48) & 0xFFFF] & 0xFFFFL) << 48;
            out.putLong(d + i, y);
        }
        for (; i < n; i += 2) {
            out.putShort(d + i, t[in.getShort(s + i) & 0xFFFF]);
        }
    }

    /** The reference arithmetic: float, times the factor in double, rounded once to float (nearest even). */
    private static void f32(ByteBuffer in, int s, ByteBuffer out, int d, int n, double factor) {
        for (int i = 0; i < n; i += 4) {
            float v = Float.intBitsToFloat(in.getInt(s + i));
            out.putInt(d + i, Float.floatToRawIntBits(Rounding.toFloat(v * factor, false)));
        }
    }
}
