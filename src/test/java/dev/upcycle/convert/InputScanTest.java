package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.DType;
import dev.upcycle.io.Floats;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The raw-bit NaN/Inf count, four 16-bit values per word, against a plain per-value count. */
class InputScanTest {

    @Test
    void countsEveryNonFinite16BitValueWhereverItLies() {
        Random rnd = new Random(1);
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            for (int trial = 0; trial < 200; trial++) {
                int n = 1 + rnd.nextInt(64);
                ByteBuffer b = ByteBuffer.allocate(n * 2 + 6).order(ByteOrder.LITTLE_ENDIAN);
                int off = 2 * rnd.nextInt(3);
                long want = 0;
                for (int i = 0; i < n; i++) {
                    float v = switch (rnd.nextInt(8)) {
                        case 0 -> Float.NaN;
                        case 1 -> Float.NEGATIVE_INFINITY;
                        case 2 -> Float.POSITIVE_INFINITY;
                        default -> (float) (rnd.nextGaussian() * 1000);
                    };
                    short bits = d == DType.BF16 ? Floats.f32ToBf16(v) : Floats.f32ToF16(v);
                    float back = d == DType.BF16 ? Floats.bf16ToF32(bits) : Floats.f16ToF32(bits);
                    want += Float.isFinite(back) ? 0 : 1;
                    b.putShort(off + 2 * i, bits);
                }
                assertThat(InputScan.count(b, off, off + 2 * n, d)).as(d + " trial " + trial).isEqualTo(want);
            }
        }
    }
}
