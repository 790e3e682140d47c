package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * Converts little-endian F64/F32/F16/BF16 element bytes to and from floats (docs/formats.md, "Dtypes").
 */
public final class FloatCodec {
    private FloatCodec() {
    }

    static void requireFloat(DType dtype, String where) {
        if (!dtype.isFloat()) {
            throw new UpcycleException(ErrorKind.UnsupportedDtype, where,
                    "dtype " + dtype + " cannot be read as floats (only F64, F32, F16, BF16)");
        }
    }

    /**
     * Decodes {@code count} elements from {@code src} (position advanced) into {@code dst}.
     * F64 values outside the float range are a {@code DtypeOverflow}.
     */
    public static void decode(DType dtype, ByteBuffer src, float[] dst, int off, int count, String where) {
        ByteBuffer b = src.order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            // Through a view with absolute indices, read once the length is known to be there:
            // no position update per element, and the JIT drops most per-read checks.
            case F32 -> {
                FloatBuffer v = b.asFloatBuffer();
                require(v.remaining(), count);
                for (int i = 0; i < count; i++) {
                    dst[off + i] = v.get(i);
                }
                b.position(b.position() + 4 * count);
            }
            case BF16 -> {
                ShortBuffer v = b.asShortBuffer();
                require(v.remaining(), count);
                for (int i = 0; i < count; i++) {
                    dst[off + i] = Floats.bf16ToF32(v.get(i));
                }
                b.position(b.position() + 2 * count);
            }
            case F16 -> {
                ShortBuffer v = b.asShortBuffer();
                require(v.remaining(), count);
                for (int i = 0; i < count; i++) {
                    dst[off + i] = Floats.f16ToF32Table(v.get(i));
                }
                b.position(b.position() + 2 * count);
            }
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    double d = b.getDouble();
                    if (Floats.overflowsF32(d)) {
                        throw new UpcycleException(ErrorKind.DtypeOverflow, where,
                                "F64 value " + d + " does not fit in F32");
                    }
                    dst[off + i] = (float) d;
                }
            }
            default -> requireFloat(dtype, where);
        }
    }

    /** As a relative get past the limit: the buffer holds fewer than {@code count} elements. */
    private static void require(int available, int count) {
        if (available < count) {
            throw new BufferUnderflowException();
        }
    }

    /**
     * Encodes floats as {@code dtype} into {@code dst}, round to nearest even. A finite value
     * that overflows F16 is a {@code DtypeOverflow}: a weight silently becoming Inf is data loss.
     */
    public static void encode(DType dtype, float[] src, int off, int len, ByteBuffer dst, String where) {
        ByteBuffer b = dst.order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> {
                for (int i = off; i < off + len; i++) {
                    b.putFloat(src[i]);
                }
            }
            case BF16 -> {
                for (int i = off; i < off + len; i++) {
                    b.putShort(Floats.f32ToBf16(src[i]));
                }
            }
            case F16 -> {
                for (int i = off; i < off + len; i++) {
                    float f = src[i];
                    if (Floats.overflowsF16(f)) {
                        throw new UpcycleException(ErrorKind.DtypeOverflow, where, "value " + f + " at element "
                                + (i - off) + " of this write exceeds the F16 range (max 65504)");
                    }
                    b.putShort(Floats.f32ToF16(f));
                }
            }
            case F64 -> {
                for (int i = off; i < off + len; i++) {
                    b.putDouble(src[i]);
                }
            }
            default -> throw new UpcycleException(ErrorKind.UnsupportedDtype, where,
                    "floats cannot be written as " + dtype);
        }
    }
}
