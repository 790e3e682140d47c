package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.DType;
import dev.upcycle.io.FloatCodec;
import dev.upcycle.io.Floats;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MeanKernel} gives bit for bit the bytes of the implementation it replaced (kept here as
 * {@link #reference}: decode every seed to floats, sum in float64 from 0.0, divide, round to float
 * to odd with branches, encode with nearest even): every BF16 and every F16 value against zeros,
 * subnormals, the largest values, infinities, NaNs and its own neighbours (ties), random triples,
 * and seeds of mixed dtypes, into BF16, F16 and F32, across chunk boundaries.
 */
class MeanKernelTest {
    @TempDir
    Path tmp;

    /** The former rounding, with its branches. */
    static float oldToFloat(double x, boolean narrow) {
        float f = (float) x;
        if (!narrow || (double) f == x || Float.isInfinite(f) || Double.isNaN(x)) {
            return f;
        }
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 1) == 0) {
            return Float.intBitsToFloat(Math.abs(f) < Math.abs(x) ? bits + 1 : bits - 1);
        }
        return f;
    }

    /**
     * The former mean: the output's bytes for BF16 and F32, the floats' bits (little-endian) for F16.
     * Where its running sum was already NaN and met another NaN, the NaN it kept depended on the
     * operand order the JIT compiler chose (scalar and vectorised iterations differed); there the
     * first NaN the sum met is expected, as the kernel defines it.
     */
    static ByteBuffer reference(List<ByteBuffer> seeds, List<DType> dtypes, DType out, int n) {
        double[] sum = new double[n];
        float[] part = new float[n];
        boolean[] ambiguous = new boolean[n];
        double[] firstNan = new double[n];
        for (int s = 0; s < seeds.size(); s++) {
            ByteBuffer b = seeds.get(s).duplicate().order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < n; k++) {
                part[k] = switch (dtypes.get(s)) {
                    case BF16 -> Floats.bf16ToF32(b.getShort(2 * k));
                    case F16 -> Floats.f16ToF32(b.getShort(2 * k));
                    case F32 -> b.getFloat(4 * k);
                    default -> (float) b.getDouble(8 * k);
                };
            }
            for (int k = 0; k < n; k++) {
                if (Double.isNaN(sum[k]) && Float.isNaN(part[k]) && !ambiguous[k]) {
                    ambiguous[k] = true;
                    firstNan[k] = sum[k];
                }
                sum[k] += part[k];
            }
        }
        for (int k = 0; k < n; k++) {
            // The kept NaN of an ambiguous element: the earlier sum's, after the addition's quieting.
            double x = ambiguous[k] ? firstNan[k] : sum[k];
            part[k] = oldToFloat(x / seeds.size(), out != DType.F32);
        }
        DType as = out == DType.F16 ? DType.F32 : out;
        ByteBuffer b = ByteBuffer.allocate(n * as.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        FloatCodec.encode(as, part, 0, n, b, "mean");
        return b.flip();
    }

    /** The kernel over files holding {@code seeds}, chunk by chunk, in the same form as {@link #reference}. */
    private ByteBuffer kernel(List<ByteBuffer> seeds, List<DType> dtypes, DType out, int n) {
        Path file = write(seeds, dtypes, n);
        DType as = out == DType.F16 ? DType.F32 : out;
        ByteBuffer got = ByteBuffer.allocate(n * as.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            List<TensorRef> refs = new ArrayList<>();
            for (int s = 0; s < seeds.size(); s++) {
                refs.add(new TensorRef(f, f.tensor("s" + s)));
            }
            MeanKernel k = new MeanKernel(refs, out);
            OrderedChunks.Chunk c = new OrderedChunks.Chunk();
            OrderedChunks.Scratch scratch = new OrderedChunks.Scratch();
            int per = OrderedChunks.CHUNK_FLOATS;
            for (long first = 0; first < n; first += per) {
                int len = (int) Math.min(per, n - first);
                k.produce(first, len, c, scratch);
                if (k.encodes()) {
                    got.put(c.bytes().limit(len * out.bytes()));
                } else {
                    float[] v = c.floatArray();
                    for (int i = 0; i < len; i++) {
                        got.putFloat(v[i]);
                    }
                }
            }
        }
        return got.flip();
    }

    /** One safetensors file with tensor "s" + i holding {@code seeds.get(i)} (written by hand: the writer refuses F64). */
    private Path write(List<ByteBuffer> seeds, List<DType> dtypes, int n) {
        StringBuilder json = new StringBuilder("{");
        long at = 0;
        for (int s = 0; s < seeds.size(); s++) {
            long size = (long) n * dtypes.get(s).bytes();
            json.append(s == 0 ? "" : ",").append("\"s").append(s).append("\":{\"dtype\":\"").append(dtypes.get(s))
                    .append("\",\"shape\":[").append(n).append("],\"data_offsets\":[").append(at).append(',')
                    .append(at + size).append("]}");
            at += size;
        }
        json.append('}');
        while (json.length() % 8 != 0) {
            json.append(' ');
        }
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        Path file = tmp.resolve("seeds" + (files++) + ".safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
            ch.write(ByteBuffer.wrap(header));
            for (int s = 0; s < seeds.size(); s++) {
                ByteBuffer all = seeds.get(s).duplicate().clear().limit(n * dtypes.get(s).bytes());
                while (all.hasRemaining()) {
                    ch.write(all);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    private int files;

    private void check(List<ByteBuffer> seeds, List<DType> dtypes, int n) {
        for (DType out : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            ByteBuffer want = reference(seeds, dtypes, out, n);
            ByteBuffer got = kernel(seeds, dtypes, out, n);
            int width = out == DType.F16 ? 4 : out.bytes();
            if (!got.equals(want)) {
                for (int i = 0; i < n; i++) {
                    long a = width == 2 ? want.getShort(i * 2) : want.getInt(i * 4);
                    long b = width == 2 ? got.getShort(i * 2) : got.getInt(i * 4);
                    StringBuilder in = new StringBuilder();
                    for (ByteBuffer s : seeds) {
                        in.append(Integer.toHexString(s.getShort(i * 2) & 0xFFFF)).append(' ');
                    }
                    assertThat(Long.toHexString(b)).as("%s mean of %s(element %d)", out, in, i)
                            .isEqualTo(Long.toHexString(a));
                }
            }
            assertThat(got).as("%s mean of %s", out, dtypes).isEqualTo(want);
        }
    }

    /** Values where rounding goes wrong first: zeros, subnormals, the normal boundary, 1, the largest, Inf, NaNs. */
    private static final int[] EDGES_BF16 = {0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x807F, 0x0080, 0x8080,
            0x0081, 0x3F80, 0xBF80, 0x3F81, 0x3FFF, 0x4000, 0x7F7F, 0xFF7F, 0x7F7E, 0x7F80, 0xFF80, 0x7FC0,
            0xFFC0, 0x7F81, 0x7FFF, 0x0100, 0x3C00, 0x4040};
    private static final int[] EDGES_F16 = {0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400,
            0x0401, 0x3C00, 0xBC00, 0x3C01, 0x3FFF, 0x4000, 0x7BFF, 0xFBFF, 0x7BFE, 0x7C00, 0xFC00, 0x7E00,
            0xFE00, 0x7C01, 0x7FFF, 0x0200};
    /** Differences in bits to a value's neighbours: their means are ties or near ties. */
    private static final int[] STEPS = {1, 2, 3, -1, -2, 0x80, 0x8000, 0x7F, 0x101};

    /** Every 16-bit value paired with every edge value, and with its neighbours; then triples of them. */
    @Test
    void every16BitValueAgainstEdgesAndNeighbours() {
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            int[] edges = d == DType.BF16 ? EDGES_BF16 : EDGES_F16;
            int n = (1 << 16) * (edges.length + STEPS.length);
            ByteBuffer a = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer c = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                int v = i & 0xFFFF;
                int k = i >>> 16;
                int other = k < edges.length ? edges[k] : (v + STEPS[k - edges.length]) & 0xFFFF;
                a.putShort(2 * i, (short) v);
                b.putShort(2 * i, (short) other);
                c.putShort(2 * i, (short) edges[(i * 7 + k) % edges.length]);
            }
            check(List.of(a, b), List.of(d, d), n);
            check(List.of(a, b, c), List.of(d, d, d), n);
        }
    }

    /** Random BF16 triples and quadruples, half of the values from the edges (the three-seed bench merge). */
    @Test
    void randomBf16TriplesAndQuadruples() {
        Random rnd = new Random(18);
        int n = 3 * OrderedChunks.CHUNK_FLOATS / 2 + 5;
        List<ByteBuffer> seeds = new ArrayList<>();
        for (int s = 0; s < 4; s++) {
            ByteBuffer b = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                int r = rnd.nextInt();
                b.putShort(2 * i, (short) ((r & 1) == 0 ? EDGES_BF16[(r >>> 1) % EDGES_BF16.length] : r >>> 16));
            }
            seeds.add(b);
        }
        check(seeds.subList(0, 3), List.of(DType.BF16, DType.BF16, DType.BF16), n);
        check(seeds, List.of(DType.BF16, DType.BF16, DType.BF16, DType.BF16), n);
    }

    /** Seeds of different dtypes (the mean rounds once whatever they are), F64 through the float decoder. */
    @Test
    void mixedDtypes() {
        Random rnd = new Random(19);
        int n = 70_000;
        List<DType> dtypes = List.of(DType.F16, DType.BF16, DType.F32, DType.F64);
        List<ByteBuffer> seeds = new ArrayList<>();
        for (DType d : dtypes) {
            ByteBuffer b = ByteBuffer.allocate(n * d.bytes()).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                switch (d) {
                    case F16, BF16 -> b.putShort((short) (i % 3 == 0 ? i : rnd.nextInt()));
                    case F32 -> b.putInt(i % 3 == 0 ? Float.floatToRawIntBits((float) rnd.nextGaussian()) : rnd.nextInt());
                    default -> b.putDouble(Floats.bf16ToF32((short) rnd.nextInt()) * rnd.nextDouble());
                }
            }
            seeds.add(b.flip());
        }
        check(seeds, dtypes, n);
        check(seeds.subList(0, 3), dtypes.subList(0, 3), n);
        check(seeds.subList(2, 4), dtypes.subList(2, 4), n);
    }
}
