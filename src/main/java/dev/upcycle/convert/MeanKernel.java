package dev.upcycle.convert;

import dev.upcycle.io.DType;
import dev.upcycle.io.FloatCursor;
import dev.upcycle.io.Floats;
import dev.upcycle.io.TensorRef;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * The element-wise mean of one tensor over several seeds (BTX and BAM merges), a chunk at a time:
 * each seed's values summed in float64 in seed order from 0.0, divided by the number of seeds, and
 * rounded once ({@link Rounding}). BF16, F16 and F32 seeds are summed straight from their bytes,
 * a block at a time so the sums stay in the L1 cache; other dtypes are decoded by a
 * {@link FloatCursor} (F64 values past the float range are refused there). Reads and their errors
 * come in seed order, as when every seed was decoded to floats first, and the bytes are those of
 * decoding, summing over whole chunks and rounding element by element (MeanKernelTest keeps that
 * code as its oracle), but for a NaN meeting another NaN, which is made reproducible ({@link #nan}).
 */
final class MeanKernel {
    /** Elements per block: 16 KiB of sums. */
    static final int BLOCK = 2048;

    private final List<TensorRef> refs;
    private final DType out;

    /** The mean of {@code refs} (tensors of one element count) as {@code out}. */
    MeanKernel(List<TensorRef> refs, DType out) {
        this.refs = List.copyOf(refs);
        this.out = out;
    }

    /** True when BF16 and F32 results are encoded here; F16 (and F64) go to the sink as floats, which reports an F16 overflow. */
    boolean encodes() {
        return out == DType.BF16 || out == DType.F32;
    }

    /**
     * Elements {@code [first, first + n)} of the mean into {@code c}: encoded bytes for BF16 and F32,
     * floats rounded to odd for the sink otherwise. {@code n} is at most {@link OrderedChunks#CHUNK_FLOATS}.
     */
    void produce(long first, int n, OrderedChunks.Chunk c, OrderedChunks.Scratch scratch) {
        int seeds = refs.size();
        ByteBuffer[] raw = new ByteBuffer[seeds];
        float[][] decoded = new float[seeds][];
        for (int s = 0; s < seeds; s++) {
            TensorRef ref = refs.get(s);
            DType d = ref.header().dtype();
            if (d == DType.BF16 || d == DType.F16 || d == DType.F32) {
                raw[s] = scratch.input(s, n * d.bytes());
                ref.file().readBytes(ref.header(), first * d.bytes(), raw[s]);
            } else {
                decoded[s] = scratch.decoded(s);
                try (FloatCursor cur = ref.file().floatCursor(ref.name(), first, n)) {
                    for (int off = 0; off < n; ) {
                        off += cur.read(decoded[s], off, n - off);
                    }
                }
            }
        }
        double[] sum = scratch.block();
        ByteBuffer bytes = encodes() ? c.bytes() : null;
        float[] floats = encodes() ? null : c.floatArray();
        for (int from = 0; from < n; from += BLOCK) {
            int len = Math.min(BLOCK, n - from);
            Arrays.fill(sum, 0, len, 0.0);
            for (int s = 0; s < seeds; s++) {
                if (raw[s] == null) {
                    addFloats(decoded[s], from, len, sum);
                } else {
                    switch (refs.get(s).header().dtype()) {
                        case BF16 -> addBf16(raw[s], from, len, sum);
                        case F16 -> addF16(raw[s], from, len, sum);
                        default -> addF32(raw[s], from, len, sum);
                    }
                }
            }
            double count = seeds;
            if (out == DType.BF16) {
                for (int j = 0; j < len; j++) {
                    double x = sum[j] / count;
                    if (x != x) {
                        x = nan(raw, decoded, from + j);
                    }
                    bytes.putShort(2 * (from + j), Rounding.toBf16(x));
                }
            } else if (out == DType.F32) {
                for (int j = 0; j < len; j++) {
                    double x = sum[j] / count;
                    if (x != x) {
                        x = nan(raw, decoded, from + j);
                    }
                    bytes.putFloat(4 * (from + j), (float) x);
                }
            } else {
                for (int j = 0; j < len; j++) {
                    double x = sum[j] / count;
                    if (x != x) {
                        x = nan(raw, decoded, from + j);
                    }
                    floats[from + j] = Float.intBitsToFloat(Rounding.toOddBits(x));
                }
            }
        }
        if (bytes != null) {
            bytes.position(n * out.bytes()).flip();
        } else {
            c.floats(n);
        }
    }

    /**
     * A mean that is NaN, summed again with the NaN the sum first meets kept: the NaN of the first
     * seed value that is NaN, or that of Inf + -Inf. The sum of two NaNs is one of them, but which
     * depends on the order the JIT compiler gives the operands (it differed between the scalar and
     * the vectorised iterations of the former loop); this makes the choice explicit and the bytes
     * reproducible. Where at most one NaN meets the sum, the result is the addition's own.
     */
    private double nan(ByteBuffer[] raw, float[][] decoded, int i) {
        double s = 0.0;
        for (int k = 0; k < raw.length && !Double.isNaN(s); k++) {
            double v;
            if (raw[k] == null) {
                v = decoded[k][i];
            } else {
                v = switch (refs.get(k).header().dtype()) {
                    case BF16 -> Float.intBitsToFloat(raw[k].getShort(2 * i) << 16);
                    case F16 -> Floats.f16ToF32Table(raw[k].getShort(2 * i));
                    default -> raw[k].getFloat(4 * i);
                };
            }
            s += v;
        }
        return s / raw.length;
    }

    private static void addBf16(ByteBuffer b, int from, int len, double[] sum) {
        for (int j = 0, p = 2 * from; j < len; j++, p += 2) {
            sum[j] += Float.intBitsToFloat(b.getShort(p) << 16);
        }
    }

    private static void addF16(ByteBuffer b, int from, int len, double[] sum) {
        for (int j = 0, p = 2 * from; j < len; j++, p += 2) {
            sum[j] += Floats.f16ToF32Table(b.getShort(p));
        }
    }

    private static void addF32(ByteBuffer b, int from, int len, double[] sum) {
        for (int j = 0, p = 4 * from; j < len; j++, p += 4) {
            sum[j] += b.getFloat(p);
        }
    }

    private static void addFloats(float[] v, int from, int len, double[] sum) {
        for (int j = 0; j < len; j++) {
            sum[j] += v[from + j];
        }
    }
}
