package dev.upcycle.convert;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.FloatCursor;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.io.TensorSink;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.io.WrittenCheckpoint;
import dev.upcycle.moe.RouterInitializer;
import dev.upcycle.plan.PlannedTensor;
import dev.upcycle.plan.TensorSource;
import dev.upcycle.plan.UpcyclePlan;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Streams an {@link UpcyclePlan} into safetensors files, tensor by tensor, in bounded memory.
 * Whole tensors and unscaled row slices (contiguous byte ranges) are copied as bytes with no
 * conversion, which keeps the run limited by the disk; column slices read source rows in
 * bounded chunks; scaled or dtype-changed values go through float with one rounding from float64
 * (docs/formats.md, "Dtypes"); routers and zeros are synthesised in the output dtype. Scaled
 * 16-bit weights, column slices and the means of merges are produced in chunks on every core
 * ({@link OrderedChunks}) and written in order, so those CPU-bound paths keep up with the disk.
 * Experts upcycled from one dense FFN share their bytes (every copy of a scaled weight, every
 * copy of a fine-grained slice): such bytes are produced once, and each later tensor with the
 * same source and dtype is read back from the output where the first one was written (the first
 * is kept in the page cache for that, and only where a later tensor shares it).
 */
public final class PlanExecutor implements AutoCloseable {
    /** Elements per conversion chunk (4 MiB of floats). */
    static final int CHUNK = 1 << 20;

    private final UpcyclePlan plan;
    private final Checkpoint source;
    /** Every input, in seed order; {@code source} is the first. */
    private final java.util.List<Checkpoint> seeds;
    private final Consumer<PlannedTensor> beforeEach;
    private final Map<String, PlannedTensor> byName = new HashMap<>();
    private final float[] floats = new float[CHUNK];
    private final Map<Double, ScaleKernel> kernels = new HashMap<>();
    /** While writing: the first tensor written for each source worth reusing (see {@link #reuseKey}). */
    private final Map<java.util.List<Object>, String> firstWritten = new HashMap<>();
    /** While writing: {@link #sharedKeys()}. */
    private Map<String, java.util.List<Object>> sharedKeys = Map.of();
    private int repeated;
    private int kept;
    private final int threads;
    private ByteBuffer bytes;
    /** Set while {@link #write(Path, Consumer)} runs, and for the life of a replaying executor. */
    private OrderedChunks chunks;

    PlanExecutor(UpcyclePlan plan, Checkpoint source, Consumer<PlannedTensor> beforeEach) {
        this(plan, java.util.List.of(source), beforeEach);
    }

    PlanExecutor(UpcyclePlan plan, java.util.List<Checkpoint> seeds, Consumer<PlannedTensor> beforeEach) {
        this(plan, seeds, beforeEach, OrderedChunks.defaultThreads());
    }

    /** With {@code threads} workers for the chunked paths (the result does not depend on it). */
    PlanExecutor(UpcyclePlan plan, java.util.List<Checkpoint> seeds, Consumer<PlannedTensor> beforeEach, int threads) {
        this.threads = threads;
        this.plan = Objects.requireNonNull(plan);
        this.seeds = java.util.List.copyOf(seeds);
        this.source = this.seeds.get(0);
        this.beforeEach = beforeEach == null ? t -> { } : beforeEach;
        plan.tensors().forEach(t -> byName.put(t.name(), t));
    }

    /** Writes the plan's weights into {@code dir}. */
    public static WrittenCheckpoint write(UpcyclePlan plan, Checkpoint source, Path dir) {
        return new PlanExecutor(plan, source, null).write(dir);
    }

    /**
     * An executor that streams single tensors on request ({@link #fill(PlannedTensor, TensorSink)}):
     * verify replays a plan into a comparing sink, so the values it expects are the converter's own.
     *
     * @param seeds every input, in seed order
     */
    public static PlanExecutor replaying(UpcyclePlan plan, java.util.List<Checkpoint> seeds) {
        PlanExecutor e = new PlanExecutor(plan, seeds, null);
        e.chunks = new OrderedChunks(e.threads);
        return e;
    }

    /** Stops the workers of a {@link #replaying} executor; nothing to do after {@link #write}. */
    @Override
    public void close() {
        if (chunks != null) {
            chunks.close();
            chunks = null;
        }
    }

    /** Streams the values the plan gives {@code t} into {@code sink}, exactly as {@link #write} does. */
    public void fill(PlannedTensor t, TensorSink sink) {
        fill(t, t.source(), source, sink);
    }

    WrittenCheckpoint write(Path dir) {
        return write(dir, null);
    }

    /** As {@link #write(Path)}; {@code digests}, when not null, gets each weight file's SHA-256, computed while it is written. */
    WrittenCheckpoint write(Path dir, Consumer<FileDigest> digests) {
        var specs = plan.tensors().stream().map(PlannedTensor::spec).toList();
        sharedKeys = sharedKeys();
        try (OrderedChunks c = new OrderedChunks(threads)) {
            chunks = c;
            return CheckpointWriter.write(dir, specs, plan.request().maxShardSize(), Map.of(), this::fill, digests);
        } finally {
            chunks = null;
        }
    }

    /**
     * Each tensor's reuse key ({@link #reuseKey}), for the keys more than one tensor of the plan
     * has: a tensor whose key is its own alone is read back by nobody.
     */
    private Map<String, java.util.List<Object>> sharedKeys() {
        Map<String, java.util.List<Object>> keys = new HashMap<>();
        Map<java.util.List<Object>, Integer> counts = new HashMap<>();
        for (PlannedTensor t : plan.tensors()) {
            java.util.List<Object> key = reuseKey(t);
            if (key != null) {
                keys.put(t.name(), key);
                counts.merge(key, 1, Integer::sum);
            }
        }
        keys.values().removeIf(key -> counts.get(key) < 2);
        return keys;
    }

    /** Tensors written so far by reading back an earlier tensor's bytes. */
    int repeated() {
        return repeated;
    }

    /** Tensors written so far whose bytes were kept in the page cache for later copies to read back. */
    int kept() {
        return kept;
    }

    private void fill(TensorSpec spec, TensorSink sink) {
        PlannedTensor t = byName.get(spec.name());
        beforeEach.accept(t);
        // Null where nobody reads the bytes back (a merge's means, say): nothing to keep in the page cache.
        java.util.List<Object> key = sharedKeys.get(t.name());
        if (key != null) {
            String first = firstWritten.get(key);
            if (first != null && sink.repeat(first)) {
                repeated++;
                return;
            }
            if (first == null) {
                sink.keepCached();
                kept++;
            }
        }
        fill(t, t.source(), source, sink);
        if (key != null) {
            firstWritten.putIfAbsent(key, t.name());
        }
    }

    /**
     * The tensor's bytes depend only on its source and dtype for these sources; the key is null
     * where reading them back would save nothing (a channel copy of a contiguous range, something
     * synthesised) or where the bytes depend on the tensor's name (noise, routers).
     */
    private java.util.List<Object> reuseKey(PlannedTensor t) {
        TensorSource src = t.source();
        Checkpoint from = source;
        if (src instanceof TensorSource.Seed s) {
            from = seeds.get(s.index());
            src = s.source();
        }
        boolean costly;
        if (src instanceof TensorSource.RowSlice r) {
            costly = r.factor() != 1.0 || from.tensor(r.sourceName()).header().dtype() != t.dtype();
        } else if (src instanceof TensorSource.Copy c) {
            costly = from.tensor(c.sourceName()).header().dtype() != t.dtype();
        } else {
            costly = src instanceof TensorSource.ColumnSlice || src instanceof TensorSource.Mean;
        }
        return costly ? java.util.List.of(t.source(), t.dtype()) : null;
    }

    private void fill(PlannedTensor t, TensorSource src, Checkpoint source, TensorSink sink) {
        if (src instanceof TensorSource.Noisy n) {
            fill(t, n.source(), source, new NoisySink(sink, n.std(), n.seed()));
        } else if (src instanceof TensorSource.Seed s) {
            fill(t, s.source(), seeds.get(s.index()), sink);
        } else if (src instanceof TensorSource.Mean m) {
            mean(m, t.dtype(), sink);
        } else if (src instanceof TensorSource.Copy c) {
            TensorRef ref = source.tensor(c.sourceName());
            if (ref.header().dtype() == t.dtype()) {
                sink.transferFrom(ref.file(), ref.header());
            } else {
                convert(ref, 0, ref.header().elements(), 1.0, t.dtype(), sink);
            }
        } else if (src instanceof TensorSource.RowSlice r) {
            TensorRef ref = source.tensor(r.sourceName());
            TensorHeader h = ref.header();
            long rowElements = h.shape().rowElements();
            long first = r.start() * rowElements;
            long count = (long) (r.end() - r.start()) * rowElements;
            if (r.factor() == 1.0 && h.dtype() == t.dtype()) {
                int w = h.dtype().bytes();
                sink.transferFrom(ref.file(), h, first * w, count * w);
            } else {
                convert(ref, first, count, r.factor(), t.dtype(), sink);
            }
        } else if (src instanceof TensorSource.ColumnSlice c) {
            columns(source.tensor(c.sourceName()), c, t.dtype(), sink);
        } else if (src instanceof TensorSource.Router r) {
            float[] w = RouterInitializer.routerWeights(r.spec(), r.layer(), (int) t.shape().dim(1), t.name());
            sink.writeFloats(w, 0, w.length);
        } else if (src instanceof TensorSource.Gates g) {
            float[] w = g.values(t.name(), (int) t.shape().dim(1));
            sink.writeFloats(w, 0, w.length);
        } else if (src instanceof TensorSource.Zeros) {
            zeros(t.byteSize(), sink);
        } else if (src instanceof TensorSource.Constant k) {
            constant((float) k.value(), t.shape().elements(), sink);
        } else {
            throw new IllegalStateException("unknown source " + src);
        }
    }

    /**
     * Merges (docs/attention-experts.md, "Several seeds: BTX and BAM merges"): the element-wise mean of
     * whole tensors of several seeds, in float64, rounded once.
     */
    private void mean(TensorSource.Mean m, DType out, TensorSink sink) {
        java.util.List<TensorRef> refs = new java.util.ArrayList<>();
        long count = -1;
        for (TensorSource p : m.parts()) {
            TensorSource.Seed s = (TensorSource.Seed) p;
            TensorRef ref = seeds.get(s.index()).tensor(s.sourceName());
            count = ref.header().elements();
            refs.add(ref);
        }
        long total = count;
        int per = OrderedChunks.CHUNK_FLOATS;
        MeanKernel kernel = new MeanKernel(refs, out);
        chunks.write(sink, (int) ((total + per - 1) / per), (i, c, scratch) -> {
            long first = (long) i * per;
            kernel.produce(first, (int) Math.min(per, total - first), c, scratch);
        });
    }

    /** Elements {@code [first, first+count)} times {@code factor}, rounded once into {@code out}. */
    private void convert(TensorRef ref, long first, long count, double factor, DType out, TensorSink sink) {
        TensorHeader h = ref.header();
        if (ScaleKernel.supports(h.dtype(), out)) {
            ScaleKernel k = kernel(out, factor);
            int w = h.dtype().bytes();
            int per = SCALED_BYTES / w;
            String where = where(sink);
            chunks.write(sink, (int) ((count + per - 1) / per), (i, c, scratch) -> {
                long done = (long) i * per;
                int n = (int) Math.min(count - done, per);
                ByteBuffer b = c.bytes().limit(n * w);
                ref.file().readBytes(h, (first + done) * w, b);
                b.flip();
                // In place: the table reads each 8 bytes before it writes them.
                k.scale(b.duplicate(), b.duplicate(), where);
            });
            return;
        }
        try (FloatCursor c = ref.file().floatCursor(ref.name(), first, count)) {
            while (c.remaining() > 0) {
                int n = c.read(floats, 0, (int) Math.min(floats.length, c.remaining()));
                scale(floats, n, factor, out);
                sink.writeFloats(floats, 0, n);
            }
        }
    }

    /**
     * Columns {@code [start, end)} of a {@code [rows, cols]} source: reads bounded chunks of rows
     * (the span from the first wanted column of the first row to the last of the last row).
     */
    private void columns(TensorRef ref, TensorSource.ColumnSlice c, DType out, TensorSink sink) {
        TensorHeader h = ref.header();
        long rows = h.shape().dim(0);
        long cols = h.shape().dim(1);
        int width = c.end() - c.start();
        int chunkRows = (int) Math.max(1, Math.min(rows, CHUNK / cols));
        boolean raw = c.factor() == 1.0 && h.dtype() == out;
        int w = h.dtype().bytes();
        if (c.start() == 0 && c.end() == cols) {
            // Every column: the rows are one contiguous range.
            if (raw) {
                sink.transferFrom(ref.file(), h);
            } else {
                convert(ref, 0, rows * cols, c.factor(), out, sink);
            }
            return;
        }
        if ((raw || ScaleKernel.supports(h.dtype(), out)) && (long) width * w <= SCALED_BYTES) {
            columnsChunked(ref, c, raw ? null : kernel(out, c.factor()), sink);
            return;
        }
        for (long r = 0; r < rows; r += chunkRows) {
            int n = (int) Math.min(chunkRows, rows - r);
            long first = r * cols + c.start();
            long span = (n - 1) * cols + width;
            if (raw) {
                ByteBuffer b = buffer(span * w);
                ref.file().readBytes(h, first * w, b);
                for (int i = 0; i < n; i++) {
                    int from = (int) (i * cols * w);
                    sink.write(b.duplicate().position(from).limit(from + width * w));
                }
            } else {
                if (span > floats.length) {
                    // One row wider than a chunk: take it row by row.
                    for (int i = 0; i < n; i++) {
                        convert(ref, (r + i) * cols + c.start(), width, c.factor(), out, sink);
                    }
                    continue;
                }
                try (FloatCursor cur = ref.file().floatCursor(ref.name(), first, span)) {
                    int off = 0;
                    while (off < span) {
                        off += cur.read(floats, off, (int) span - off);
                    }
                }
                for (int i = 0; i < n; i++) {
                    int from = (int) (i * cols);
                    scale(floats, from, width, c.factor(), out);
                    sink.writeFloats(floats, from, width);
                }
            }
        }
    }

    /**
     * Columns in chunks of rows on the workers: each reads the span of its rows, and puts each
     * row's wanted segment, through the scale kernel unless {@code k} is null, into its chunk.
     */
    private void columnsChunked(TensorRef ref, TensorSource.ColumnSlice c, ScaleKernel k, TensorSink sink) {
        TensorHeader h = ref.header();
        long rows = h.shape().dim(0);
        long cols = h.shape().dim(1);
        int width = c.end() - c.start();
        int w = h.dtype().bytes();
        String where = where(sink);
        int chunkRows = (int) Math.max(1, Math.min(rows, (SCALED_BYTES / w - width) / cols + 1));
        chunks.write(sink, (int) ((rows + chunkRows - 1) / chunkRows), (i, chunk, scratch) -> {
            long r = (long) i * chunkRows;
            int n = (int) Math.min(chunkRows, rows - r);
            long span = (n - 1) * cols + width;
            ByteBuffer b = scratch.read().limit((int) (span * w));
            ref.file().readBytes(h, (r * cols + c.start()) * w, b);
            ByteBuffer out = chunk.bytes();
            for (int j = 0; j < n; j++) {
                int from = (int) (j * cols * w);
                ByteBuffer row = b.duplicate().position(from).limit(from + width * w);
                if (k == null) {
                    out.put(row);
                } else {
                    k.scale(row, out, where);
                }
            }
            out.flip();
        });
    }

    /** Bytes per read of the scale kernel. */
    static final int SCALED_BYTES = 4 << 20;

    private ScaleKernel kernel(DType dtype, double factor) {
        ScaleKernel k = kernels.get(factor);
        if (k == null || k.dtype() != dtype) {
            k = ScaleKernel.of(dtype, factor);
            kernels.put(factor, k);
        }
        return k;
    }

    private static String where(TensorSink sink) {
        return sink.spec() == null ? "output" : "tensor \"" + sink.spec().name() + "\"";
    }

    private ByteBuffer buffer(long size) {
        if (bytes == null || bytes.capacity() < size) {
            bytes = ByteBuffer.allocate((int) Math.max(size, 1 << 20)).order(ByteOrder.LITTLE_ENDIAN);
        }
        bytes.clear().limit((int) size);
        return bytes;
    }

    private static void scale(float[] v, int n, double factor, DType out) {
        scale(v, 0, n, factor, out);
    }

    private static void scale(float[] v, int off, int n, double factor, DType out) {
        if (factor == 1.0) {
            return;
        }
        boolean narrow = out != DType.F32;
        for (int i = off; i < off + n; i++) {
            v[i] = Rounding.toFloat(v[i] * factor, narrow);
        }
    }

    private static void zeros(long byteSize, TensorSink sink) {
        ByteBuffer zero = ByteBuffer.allocate((int) Math.min(byteSize, 1 << 20));
        for (long left = byteSize; left > 0; ) {
            int n = (int) Math.min(left, zero.capacity());
            sink.write(zero.clear().limit(n));
            left -= n;
        }
    }

    private static void constant(float value, long elements, TensorSink sink) {
        float[] v = new float[(int) Math.min(elements, 1 << 16)];
        java.util.Arrays.fill(v, value);
        for (long left = elements; left > 0; ) {
            int n = (int) Math.min(left, v.length);
            sink.writeFloats(v, 0, n);
            left -= n;
        }
    }
}
