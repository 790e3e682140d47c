package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link FloatCodec#decode} reads through buffer views with absolute indices; it must give the
 * floats of reading element by element (every 16-bit pattern, random F32 bits), from heap and
 * direct buffers of either byte order, at any position, advance the position by what it read,
 * and refuse a buffer shorter than the count as a relative read does.
 */
class FloatCodecTest {
    private static float oneByOne(DType d, ByteBuffer b) {
        return switch (d) {
            case BF16 -> Floats.bf16ToF32(b.getShort());
            case F16 -> Floats.f16ToF32(b.getShort());
            default -> b.getFloat();
        };
    }

    @Test
    void decodesEveryPatternAsReadingOneByOne() {
        Random rnd = new Random(5);
        int n = 1 << 16;
        for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            for (boolean direct : new boolean[] {false, true}) {
                int start = 2 * rnd.nextInt(4) + (d == DType.F32 ? 1 : 0);
                int size = start + n * d.bytes() + 3;
                ByteBuffer b = (direct ? ByteBuffer.allocateDirect(size) : ByteBuffer.allocate(size))
                        .order(direct ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
                ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n; i++) {
                    if (d == DType.F32) {
                        le.putInt(start + 4 * i, rnd.nextInt());
                    } else {
                        le.putShort(start + 2 * i, (short) i);
                    }
                }
                float[] want = new float[n];
                ByteBuffer ref = le.duplicate().order(ByteOrder.LITTLE_ENDIAN).position(start);
                for (int i = 0; i < n; i++) {
                    want[i] = oneByOne(d, ref);
                }
                float[] got = new float[n + 2];
                b.position(start);
                FloatCodec.decode(d, b, got, 2, n, "t");
                assertThat(b.position()).isEqualTo(start + n * d.bytes());
                for (int i = 0; i < n; i++) {
                    assertThat(Float.floatToRawIntBits(got[2 + i])).as("%s element %d", d, i)
                            .isEqualTo(Float.floatToRawIntBits(want[i]));
                }
            }
        }
    }

    @Test
    void aBufferShorterThanTheCountUnderflows() {
        for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            ByteBuffer b = ByteBuffer.allocate(3 * d.bytes() + 1);
            assertThatThrownBy(() -> FloatCodec.decode(d, b, new float[4], 0, 4, "t"))
                    .isInstanceOf(BufferUnderflowException.class);
        }
    }
}
