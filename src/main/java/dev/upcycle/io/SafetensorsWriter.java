package dev.upcycle.io;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Writes one safetensors file the way the reference writer does (docs/formats.md, "Writing"): widest
 * dtype first, then names byte-wise; contiguous offsets; compact header with
 * {@code __metadata__} first, padded with spaces to a multiple of 8. The file appears
 * atomically: it is written to {@code .<name>.tmp} next to the target, forced, then renamed.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {
    }

    /**
     * Everything known before any data exists.
     *
     * @param tensors    specs in file order
     * @param headers    the same with their offsets, in file order
     * @param header     header bytes including padding; its length is N
     * @param dataSize   bytes of tensor data
     */
    public record Layout(List<TensorSpec> tensors, List<TensorHeader> headers, byte[] header, long dataSize) {
        public Layout {
            tensors = List.copyOf(tensors);
            headers = List.copyOf(headers);
            header = header.clone();
        }

        @Override
        public byte[] header() {
            return header.clone();
        }

        /** Total file size: 8 + N + data. */
        public long fileSize() {
            return 8L + header.length + dataSize;
        }
    }

    /** Orders bytes of UTF-8 names as the reference (Rust {@code String} ordering) does. */
    static final Comparator<String> BYTEWISE = (a, b) -> Arrays.compareUnsigned(
            a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

    /**
     * Computes order, offsets and header; metadata is {@code {"format":"pt"}} plus
     * {@code extraMetadata}, keys sorted.
     *
     * @throws UpcycleException InvalidTensorName, DuplicateTensorName, UnsupportedDtype,
     *                          HeaderTooLarge
     */
    public static Layout layout(List<TensorSpec> tensors, Map<String, String> extraMetadata) {
        return layout(tensors, extraMetadata, "safetensors layout");
    }

    static Layout layout(List<TensorSpec> tensors, Map<String, String> extraMetadata, String where) {
        Map<String, String> metadata = new TreeMap<>(BYTEWISE);
        metadata.putAll(extraMetadata);
        String format = metadata.put("format", "pt");
        if (format != null && !format.equals("pt")) {
            throw new IllegalArgumentException("metadata \"format\" is always \"pt\", got \"" + format + "\"");
        }
        return layoutRaw(tensors, metadata, where);
    }

    /** Layout with exactly {@code metadata} (null: no {@code __metadata__} at all), for tests. */
    static Layout layoutRaw(List<TensorSpec> tensors, Map<String, String> metadata, String where) {
        List<TensorSpec> order = new ArrayList<>(tensors);
        Set<String> names = new HashSet<>();
        for (TensorSpec s : order) {
            TensorNames.check(s.name(), where);
            if (s.name().equals(HeaderParser.METADATA_KEY)) {
                throw new UpcycleException(ErrorKind.InvalidTensorName, where, "\"__metadata__\" is reserved");
            }
            if (!s.dtype().isWritable()) {
                throw new UpcycleException(ErrorKind.UnsupportedDtype, TensorNames.where(where, s.name()),
                        "dtype " + s.dtype() + " is not written by this tool (F32, F16, BF16 only)");
            }
            if (!names.add(s.name())) {
                throw new UpcycleException(ErrorKind.DuplicateTensorName, TensorNames.where(where, s.name()),
                        "tensor name given twice");
            }
        }
        order.sort(Comparator.comparing((TensorSpec s) -> s.dtype().ordinal())
                .thenComparing(TensorSpec::name, BYTEWISE));

        StringBuilder json = new StringBuilder("{");
        if (metadata != null) {
            json.append(JsonText.quote(HeaderParser.METADATA_KEY)).append(":{");
            String sep = "";
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!TensorNames.wellFormedUtf16(e.getKey()) || !TensorNames.wellFormedUtf16(e.getValue())) {
                    throw new UpcycleException(ErrorKind.InvalidMetadata, where,
                            "metadata entry \"" + e.getKey() + "\" has a lone surrogate");
                }
                json.append(sep).append(JsonText.quote(e.getKey())).append(':').append(JsonText.quote(e.getValue()));
                sep = ",";
            }
            json.append('}');
        }
        List<TensorHeader> headers = new ArrayList<>(order.size());
        long offset = 0;
        for (TensorSpec s : order) {
            long size = s.byteSize();
            long end;
            try {
                end = Math.addExact(offset, size);
            } catch (ArithmeticException e) {
                throw new UpcycleException(ErrorKind.ValidationOverflow, where, "total tensor bytes overflow 64 bits");
            }
            headers.add(new TensorHeader(s.name(), s.dtype(), s.shape(), offset, end));
            if (json.length() > 1) {
                json.append(',');
            }
            json.append(JsonText.quote(s.name())).append(":{\"dtype\":\"").append(s.dtype().safetensorsName())
                    .append("\",\"shape\":[");
            long[] dims = s.shape().dims();
            for (int i = 0; i < dims.length; i++) {
                json.append(i == 0 ? "" : ",").append(dims[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        byte[] raw = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (raw.length + 7) & ~7;
        if (padded > HeaderParser.MAX_HEADER_BYTES) {
            throw new UpcycleException(ErrorKind.HeaderTooLarge, where,
                    "header would be " + padded + " bytes, over the limit of " + HeaderParser.MAX_HEADER_BYTES);
        }
        byte[] header = Arrays.copyOf(raw, padded);
        Arrays.fill(header, raw.length, padded, (byte) ' ');
        return new Layout(order, headers, header, offset);
    }

    /**
     * Writes {@code target} atomically; {@code filler} is called once per tensor in file order.
     *
     * @return the layout written
     * @throws UpcycleException IoError (disk full, permission denied), or whatever the filler
     *                          throws; the temporary file is removed in every failure case
     */
    public static Layout write(Path target, List<TensorSpec> tensors, Map<String, String> extraMetadata,
                               TensorFiller filler) {
        Layout layout = layout(tensors, extraMetadata, target.toString());
        write(target, layout, filler);
        return layout;
    }

    /** Writes a precomputed layout atomically. */
    static void write(Path target, Layout layout, TensorFiller filler) {
        write(target, layout, filler, false);
    }

    /**
     * Writes a precomputed layout atomically.
     *
     * @param hash compute the file's SHA-256 from the bytes as they are written
     * @return the lower-case hex SHA-256 of the whole file when {@code hash}, else null
     */
    static String write(Path target, Layout layout, TensorFiller filler, boolean hash) {
        Path name = target.getFileName();
        Path tmp = target.resolveSibling("." + name + ".tmp");
        String where = target.toString();
        String digest;
        try {
            // A stale temp file from a crashed run is removed; CREATE_NEW then never follows a
            // planted symlink.
            Files.deleteIfExists(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 FileSink sink = new FileSink(ch, target.toString(), hash)) {
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(layout.header.length).flip();
                sink.raw(prefix);
                sink.raw(ByteBuffer.wrap(layout.header));
                for (TensorSpec spec : layout.tensors()) {
                    Cancellation.check();
                    sink.begin(spec);
                    filler.fill(spec, sink);
                    sink.end();
                }
                digest = sink.finish();
                if (ch.position() != layout.fileSize()) {
                    throw new IllegalStateException("wrote " + ch.position() + " bytes, layout says " + layout.fileSize());
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            UpcycleException u = new UpcycleException(ErrorKind.IoError, where, "write failed: " + e, null, e);
            deleteAfterFailure(tmp, u);
            throw u;
        } catch (RuntimeException | Error e) {
            deleteAfterFailure(tmp, e);
            throw e;
        }
        return digest;
    }

    /** Cleanup while {@code cause} propagates: a failed delete is attached to it, not lost. */
    static void deleteAfterFailure(Path tmp, Throwable cause) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    /** Bytes per pipeline buffer. */
    static final int PIPE_BYTES = 4 << 20;
    /** Pipeline buffers: one being filled, the others queued for or in the writer thread. */
    static final int PIPE_BUFFERS = 3;
    /**
     * Written bytes after which a background {@code fdatasync} starts, so the disk begins
     * writing at once instead of when the kernel's dirty-page threshold is reached; 0 disables.
     */
    static final long SYNC_BYTES = Long.getLong("upcycle.syncBytes", 256L << 20);

    private static final ThreadFactory DAEMONS = r -> {
        Thread t = new Thread(r, "upcycle-writer");
        t.setDaemon(true);
        return t;
    };

    /**
     * Collects writes into direct buffers that a writer thread hashes (optionally) and writes in
     * order, so producing the next bytes (reading, scaling, encoding) overlaps the write of the
     * previous ones; counts bytes per tensor. Failures of the writer thread surface on the next
     * call of the producer.
     */
    private static final class FileSink implements TensorSink, AutoCloseable {
        private final FileChannel ch;
        private final String file;
        private final MessageDigest md;
        private final ExecutorService writer = Executors.newSingleThreadExecutor(DAEMONS);
        private final ExecutorService syncer;
        private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(PIPE_BUFFERS);
        private final AtomicBoolean syncing = new AtomicBoolean();
        private volatile Throwable failure;
        private volatile boolean cancelled;
        private ByteBuffer buf;
        private Future<?> last;
        private long unsynced;
        private TensorSpec spec;
        private long expected;
        private long written;

        FileSink(FileChannel ch, String file, boolean hash) {
            this.ch = ch;
            this.file = file;
            this.md = hash ? sha256() : null;
            this.syncer = SYNC_BYTES > 0 ? Executors.newSingleThreadExecutor(DAEMONS) : null;
            for (int i = 0; i < PIPE_BUFFERS; i++) {
                free.add(ByteBuffer.allocateDirect(PIPE_BYTES).order(ByteOrder.LITTLE_ENDIAN));
            }
            buf = free.poll();
        }

        void begin(TensorSpec s) {
            spec = s;
            expected = s.byteSize();
            written = 0;
        }

        void end() {
            if (written != expected) {
                throw new IllegalStateException("filler wrote " + written + " bytes for tensor " + spec.name()
                        + " (" + spec.dtype() + " " + spec.shape() + "), expected " + expected);
            }
            spec = null;
        }

        @Override
        public TensorSpec spec() {
            return spec;
        }

        @Override
        public long written() {
            return written;
        }

        private void reserve(long n) {
            if (spec == null) {
                throw new IllegalStateException("no tensor is being written");
            }
            if (n > expected - written) {
                throw new IllegalStateException("tensor " + spec.name() + ": writing " + n + " bytes after "
                        + written + " exceeds its size " + expected);
            }
            written += n;
        }

        private UpcycleException failed(IOException e) {
            return new UpcycleException(ErrorKind.IoError, file, "write failed: " + e, null, e);
        }

        @Override
        public void write(ByteBuffer src) {
            reserve(src.remaining());
            try {
                raw(src);
            } catch (IOException e) {
                throw failed(e);
            }
        }

        void raw(ByteBuffer src) throws IOException {
            while (src.hasRemaining()) {
                if (!buf.hasRemaining()) {
                    submit();
                }
                int n = Math.min(buf.remaining(), src.remaining());
                buf.put(buf.position(), src, src.position(), n);
                buf.position(buf.position() + n);
                src.position(src.position() + n);
            }
        }

        /** Hands the filled buffer to the writer thread and takes a free one. */
        private void submit() throws IOException {
            Cancellation.check(); // every few MiB: a signal stops even a long tensor soon
            checkFailure();
            if (buf.position() == 0) {
                return;
            }
            ByteBuffer b = buf.flip();
            buf = null;
            last = writer.submit(() -> writeOut(b));
            try {
                buf = free.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while writing " + file);
            }
            checkFailure();
        }

        /** On the writer thread: hash, write, recycle the buffer; start a background sync now and then. */
        private void writeOut(ByteBuffer b) {
            try {
                if (failure == null && !cancelled) {
                    int n = b.remaining();
                    if (md != null) {
                        md.update(b.duplicate());
                    }
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                    unsynced += n;
                    if (syncer != null && unsynced >= SYNC_BYTES && syncing.compareAndSet(false, true)) {
                        unsynced = 0;
                        syncer.execute(() -> {
                            try {
                                ch.force(false);
                            } catch (Throwable t) {
                                if (failure == null) {
                                    failure = t;
                                }
                            } finally {
                                syncing.set(false);
                            }
                        });
                    }
                }
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                }
            } finally {
                b.clear();
                free.add(b);
            }
        }

        private void checkFailure() throws IOException {
            Throwable t = failure;
            if (t == null) {
                return;
            }
            if (t instanceof IOException io) {
                throw io;
            }
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new IOException(t);
        }

        /** Waits until everything submitted is written. */
        private void drain() throws IOException {
            submit();
            if (last != null) {
                try {
                    last.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while writing " + file);
                } catch (ExecutionException e) {
                    throw new IOException(e.getCause());
                }
            }
            checkFailure();
        }

        /** Writes out everything; returns the hex SHA-256 of all bytes written, or null. */
        String finish() throws IOException {
            drain();
            return md == null ? null : HexFormat.of().formatHex(md.digest());
        }

        /** Stops the threads; after a failure, queued buffers are dropped unwritten. */
        @Override
        public void close() throws IOException {
            cancelled = true;
            writer.shutdown();
            if (syncer != null) {
                syncer.shutdown();
            }
            try {
                writer.awaitTermination(1, TimeUnit.MINUTES);
                if (syncer != null) {
                    syncer.awaitTermination(10, TimeUnit.MINUTES);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void transferFrom(SafetensorsFile f, TensorHeader t) {
            transferFrom(f, t, 0, t.byteSize());
        }

        @Override
        public void transferFrom(SafetensorsFile f, TensorHeader t, long offset, long count) {
            reserve(count);
            try {
                if (md == null) {
                    // Nothing to hash: channel to channel, in the kernel.
                    drain();
                    try {
                        f.transferTo(t, offset, count, ch);
                    } catch (UpcycleException e) {
                        // The copy names the source; a full or read-only disk is about the output.
                        throw new UpcycleException(e.kind(), TensorNames.where(file, spec == null ? t.name() : spec.name()),
                                "copying " + t.name() + " from " + f.path() + " failed: " + e.why(), e.hint(), e);
                    }
                    return;
                }
                // Through the pipeline buffers, so the bytes are hashed on their way.
                long pos = offset;
                long left = count;
                f.requireRange(t, offset, count);
                while (left > 0) {
                    if (!buf.hasRemaining()) {
                        submit();
                    }
                    int n = (int) Math.min(left, buf.remaining());
                    f.readBytes(t, pos, buf.slice(buf.position(), n));
                    buf.position(buf.position() + n);
                    pos += n;
                    left -= n;
                }
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public void writeFloats(float[] values, int off, int len) {
            java.util.Objects.checkFromIndexSize(off, len, values.length);
            int width = spec == null ? 4 : spec.dtype().bytes();
            reserve((long) len * width);
            String where = TensorNames.where(file, spec.name());
            try {
                int step = PIPE_BYTES / width;
                for (int i = off; i < off + len; i += step) {
                    int n = Math.min(step, off + len - i);
                    if (buf.remaining() < n * width) {
                        submit();
                    }
                    FloatCodec.encode(spec.dtype(), values, i, n, buf, where);
                }
            } catch (IOException e) {
                throw failed(e);
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
