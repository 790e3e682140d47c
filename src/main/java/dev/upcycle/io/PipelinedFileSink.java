package dev.upcycle.io;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * Collects writes into direct buffers that a writer thread writes in order, so producing the
 * next bytes (reading, scaling, encoding) overlaps the write of the previous ones; counts bytes
 * per tensor. When hashing, a thread of its own hashes each buffer while it is written, so the
 * file's SHA-256 costs no second pass. Failures of the writer and hasher threads surface on the
 * next call of the producer.
 *
 * <p>Given a direct channel ({@link DirectWrites}), every byte goes through the aligned buffers,
 * which are written around the page cache, except the buffers holding a tensor that will be read
 * back ({@link #keepCached}) and the unaligned tail; copies from the input and repeated tensors
 * are read into the buffers. Without one, a copy from the input or a repeated tensor goes
 * channel to channel inside the kernel, and the hasher reads the same range meanwhile.
 */
final class PipelinedFileSink implements TensorSink, AutoCloseable {
    /** Bytes per pipeline buffer (large, so a direct write keeps the disk busy). */
    static final int PIPE_BYTES = 16 << 20;
    /** Bytes per read of a range the kernel copies, to hash it. */
    private static final int HASH_READ_BYTES = 4 << 20;
    /** Pipeline buffers: one being filled, the others queued for or in the writer and hasher threads. */
    static final int PIPE_BUFFERS = 4;
    /**
     * Written bytes after which a background {@code fdatasync} starts, so the disk begins
     * writing at once instead of when the kernel's dirty-page threshold is reached; 0 disables.
     */
    static final long SYNC_BYTES = Long.getLong("upcycle.syncBytes", 256L << 20);

    private static ThreadFactory daemons(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    private final FileChannel ch;
    /** Writes around the page cache; null: everything goes through {@code ch}. */
    private final FileChannel direct;
    /** The alignment of {@code direct}'s positions, lengths and buffer addresses. */
    private final int align;
    /** Set when a direct write failed: the rest goes through the page cache. */
    private volatile boolean directFailed;
    private final String file;
    /** The file's final name, as {@link WrittenRegions} records it; null when nothing is repeated. */
    private final Path target;
    private final WrittenRegions regions;
    private final MessageDigest md;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(daemons("upcycle-writer"));
    private final ExecutorService syncer;
    /** Hashes, in file order, written buffers and the source ranges of channel copies; null when not hashing. */
    private final ExecutorService hasher;
    private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(PIPE_BUFFERS);
    private final AtomicBoolean syncing = new AtomicBoolean();
    private volatile Throwable failure;
    private volatile boolean cancelled;
    private ByteBuffer buf;
    /** The file position of {@code buf}'s first byte. */
    private long bufStart;
    /** Whether {@code buf} holds bytes of a tensor that will be read back. */
    private boolean bufKept;
    /** Whether the tensor being written will be read back. */
    private boolean keeping;
    private Future<?> last;
    private Future<?> lastHash;
    /** The hasher's read buffer for copied ranges, allocated on first use. */
    private ByteBuffer hashBuf;
    private long unsynced;
    private TensorSpec spec;
    private long expected;
    private long written;

    PipelinedFileSink(FileChannel ch, String file, boolean hash) {
        this(ch, file, hash, null, null, null, 0);
    }

    /**
     * @param ch      open for reading too when {@code regions} is given
     * @param target  the final name of the file {@code ch} writes
     * @param regions the complete tensors of this checkpoint, for {@link #repeat}; null: none
     * @param direct  a second channel on the same file that bypasses the page cache, or null
     * @param align   the alignment {@code direct} needs
     */
    PipelinedFileSink(FileChannel ch, String file, boolean hash, Path target, WrittenRegions regions,
                      FileChannel direct, int align) {
        this.ch = ch;
        this.direct = direct;
        this.align = direct == null ? 1 : align;
        this.file = file;
        this.target = target;
        this.regions = regions;
        this.md = hash ? sha256() : null;
        this.syncer = SYNC_BYTES > 0 ? Executors.newSingleThreadExecutor(daemons("upcycle-sync")) : null;
        this.hasher = hash ? Executors.newSingleThreadExecutor(daemons("upcycle-hasher")) : null;
        for (int i = 0; i < PIPE_BUFFERS; i++) {
            free.add(PipeBuffers.take(PIPE_BYTES));
        }
        buf = free.poll();
    }

    void begin(TensorSpec s) {
        spec = s;
        expected = s.byteSize();
        written = 0;
        keeping = false;
    }

    void end() {
        keeping = false;
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
            room();
            int n = Math.min(buf.remaining(), src.remaining());
            buf.put(buf.position(), src, src.position(), n);
            buf.position(buf.position() + n);
            src.position(src.position() + n);
        }
    }

    /** Makes room in {@code buf} (submitting it when full) and notes whether it holds bytes to keep cached. */
    private void room() throws IOException {
        if (!buf.hasRemaining()) {
            submit();
        }
        if (keeping) {
            bufKept = true;
        }
    }

    /**
     * Hands the filled buffer to the writer thread (and the hasher) and takes a free one. With a
     * direct channel only a full buffer or the file's tail may be submitted, so every write but
     * the last starts and ends on the alignment.
     */
    private void submit() throws IOException {
        Cancellation.check(); // every few MiB: a signal stops even a long tensor soon
        checkFailure();
        if (buf.position() == 0) {
            return;
        }
        ByteBuffer b = buf.flip();
        long pos = bufStart;
        boolean cached = bufKept || direct == null;
        bufStart += b.remaining();
        buf = null;
        bufKept = false;
        Pending p = new Pending(b, md == null ? 1 : 2);
        last = writer.submit(() -> writeOut(p, pos, cached));
        if (md != null) {
            // Submitted from this one thread in file order, so hashed in file order.
            lastHash = hasher.submit(() -> hashOut(p));
        }
        try {
            buf = free.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while writing " + file);
        }
        checkFailure();
    }

    /** A submitted buffer, recycled when the writer and the hasher are both done with it. */
    private final class Pending {
        final ByteBuffer bytes;
        private final java.util.concurrent.atomic.AtomicInteger users;

        Pending(ByteBuffer bytes, int users) {
            this.bytes = bytes;
            this.users = new java.util.concurrent.atomic.AtomicInteger(users);
        }

        void done() {
            if (users.decrementAndGet() == 0) {
                recycle(bytes);
            }
        }
    }

    /**
     * On the writer thread: write at {@code pos}, around the page cache where possible; start a
     * background sync of the cached bytes now and then.
     */
    private void writeOut(Pending p, long pos, boolean cached) {
        try {
            if (failure == null && !cancelled) {
                ByteBuffer b = p.bytes.duplicate();
                int n = b.remaining();
                if (cached || !writeDirect(b, pos)) {
                    writeAll(ch, b.position(0), pos);
                    unsynced += n;
                }
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
            p.done();
        }
    }

    /**
     * Writes {@code b} at {@code pos} through the direct channel when its length and position are
     * aligned; false when it cannot (then nothing needs undoing: the caller writes the whole
     * buffer through the page cache, over anything written here).
     */
    private boolean writeDirect(ByteBuffer b, long pos) {
        if (directFailed || b.remaining() % align != 0 || pos % align != 0) {
            return false;
        }
        try {
            writeAll(direct, b, pos);
            return true;
        } catch (IOException e) {
            // EINVAL from a file system that takes O_DIRECT at open but not these writes; a real
            // disk error comes back from the cached write and the final sync.
            directFailed = true;
            return false;
        }
    }

    private static void writeAll(FileChannel to, ByteBuffer b, long pos) throws IOException {
        long at = pos;
        while (b.hasRemaining()) {
            at += to.write(b, at);
        }
    }

    /** On the hasher thread: hash a submitted buffer. */
    private void hashOut(Pending p) {
        try {
            if (failure == null && !cancelled) {
                md.update(p.bytes.duplicate());
            }
        } catch (Throwable t) {
            if (failure == null) {
                failure = t;
            }
        } finally {
            p.done();
        }
    }

    /**
     * On the hasher thread: hash bytes {@code [offset, offset + count)} of a source tensor, the
     * bytes the producer copies channel to channel meanwhile (they are then in the page cache).
     */
    private void hashRange(SafetensorsFile f, TensorHeader t, long offset, long count) {
        try {
            if (hashBuf == null) {
                hashBuf = ByteBuffer.allocateDirect(HASH_READ_BYTES);
            }
            for (long done = 0; done < count && failure == null && !cancelled; ) {
                int n = (int) Math.min(hashBuf.capacity(), count - done);
                hashBuf.clear().limit(n);
                f.readBytes(t, offset + done, hashBuf);
                md.update(hashBuf.flip());
                done += n;
            }
        } catch (Throwable e) {
            if (failure == null) {
                failure = e;
            }
        }
    }

    private void recycle(ByteBuffer b) {
        b.clear();
        free.add(b);
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
        await(last);
        checkFailure();
    }

    private void await(Future<?> f) throws IOException {
        if (f != null) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while writing " + file);
            } catch (ExecutionException e) {
                throw new IOException(e.getCause());
            }
        }
    }

    /** Writes out everything; returns the hex SHA-256 of all bytes written, or null. */
    String finish() throws IOException {
        drain();
        if (md == null) {
            return null;
        }
        await(lastHash);
        checkFailure();
        return HexFormat.of().formatHex(md.digest());
    }

    /** Stops the threads; after a failure, queued buffers are dropped unwritten. */
    @Override
    public void close() throws IOException {
        cancelled = true;
        writer.shutdown();
        if (syncer != null) {
            syncer.shutdown();
        }
        if (hasher != null) {
            hasher.shutdown();
        }
        try {
            boolean idle = writer.awaitTermination(1, TimeUnit.MINUTES);
            if (hasher != null) {
                idle &= hasher.awaitTermination(1, TimeUnit.MINUTES);
            }
            if (syncer != null) {
                syncer.awaitTermination(10, TimeUnit.MINUTES);
            }
            if (idle) {
                // Buffers still out after a failure are left to the garbage collector.
                if (buf != null) {
                    PipeBuffers.give(buf);
                    buf = null;
                }
                for (ByteBuffer b; (b = free.poll()) != null; ) {
                    PipeBuffers.give(b);
                }
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
            if (direct != null) {
                // Read into the aligned buffers (a copy from the page cache), hashed from there.
                throughBuffers(count, (dst, at) -> f.readBytes(t, offset + at, dst));
                return;
            }
            // Channel to channel, in the kernel; the hasher reads the same range meanwhile.
            drain();
            if (md != null) {
                f.requireRange(t, offset, count);
                lastHash = hasher.submit(() -> hashRange(f, t, offset, count));
            }
            try {
                ch.position(bufStart);
                f.transferTo(t, offset, count, ch);
                bufStart += count;
            } catch (UpcycleException e) {
                // The copy names the source; a full or read-only disk is about the output.
                throw new UpcycleException(e.kind(), TensorNames.where(file, spec == null ? t.name() : spec.name()),
                        "copying " + t.name() + " from " + f.path() + " failed: " + e.why(), e.hint(), e);
            }
        } catch (IOException e) {
            throw failed(e);
        }
    }

    /** Fills part of a buffer: {@code dst} is to receive the bytes at offset {@code at} of the range. */
    @FunctionalInterface
    private interface RangeReader {
        void read(ByteBuffer dst, long at) throws IOException;
    }

    /** Appends {@code count} bytes that {@code reader} puts into the buffers, a buffer's room at a time. */
    private void throughBuffers(long count, RangeReader reader) throws IOException {
        for (long done = 0; done < count; ) {
            room();
            int n = (int) Math.min(buf.remaining(), count - done);
            ByteBuffer dst = buf.slice(buf.position(), n);
            reader.read(dst, done);
            if (dst.hasRemaining()) {
                throw new IOException("short read of " + n + " bytes");
            }
            buf.position(buf.position() + n);
            done += n;
        }
    }

    @Override
    public void writeFloats(float[] values, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, values.length);
        int width = spec == null ? 4 : spec.dtype().bytes();
        reserve((long) len * width);
        String where = TensorNames.where(file, spec.name());
        try {
            // Buffers are filled to the last byte (a direct write must be whole), so an element
            // may straddle two of them.
            for (int i = off, end = off + len; i < end; ) {
                room();
                int n = Math.min(buf.remaining() / width, end - i);
                if (n == 0) {
                    ByteBuffer one = ByteBuffer.allocate(width).order(ByteOrder.LITTLE_ENDIAN);
                    FloatCodec.encode(spec.dtype(), values, i, 1, one, where);
                    raw(one.flip());
                    i++;
                } else {
                    FloatCodec.encode(spec.dtype(), values, i, n, buf, where);
                    i += n;
                }
            }
        } catch (IOException e) {
            throw failed(e);
        }
    }

    @Override
    public void keepCached() {
        keeping = true;
    }

    @Override
    public boolean repeat(String earlier) {
        WrittenRegions.Region r = regions == null ? null : regions.get(earlier);
        if (r == null || spec == null || written != 0 || r.size() != expected) {
            return false;
        }
        reserve(r.size());
        try {
            if (direct != null) {
                if (r.file().equals(target)) {
                    copyBack(r);
                } else {
                    try (FileChannel in = FileChannel.open(r.file(), StandardOpenOption.READ)) {
                        throughBuffers(r.size(), (dst, at) -> readFully(in, dst, r.position() + at));
                    }
                }
                return true;
            }
            // Like a channel copy from the input: in the kernel, with no pass through Java's
            // buffers (the scaled paths' time went to copying bytes in and out of them); the
            // hasher reads the same range, page-cache hot, meanwhile.
            drain();
            if (r.file().equals(target)) {
                copyRegion(ch, r);
            } else {
                try (FileChannel in = FileChannel.open(r.file(), StandardOpenOption.READ)) {
                    copyRegion(in, r);
                    await(lastHash); // the hasher reads this channel until it is closed
                }
            }
        } catch (IOException e) {
            throw failed(e);
        }
        return true;
    }

    /**
     * Appends region {@code r} of this file through the buffers: what is written is read back,
     * what still waits in the current buffer is copied from it.
     */
    private void copyBack(WrittenRegions.Region r) throws IOException {
        long s = r.position();
        long end = s + r.size();
        while (s < end) {
            room();
            int n;
            if (s >= bufStart) {
                int from = (int) (s - bufStart);
                n = (int) Math.min(Math.min(end - s, buf.position() - from), buf.remaining());
                buf.put(buf.position(), buf.duplicate(), from, n);
            } else {
                await(last); // every submitted buffer is in the file
                checkFailure();
                n = (int) Math.min(Math.min(end - s, bufStart - s), buf.remaining());
                readFully(ch, buf.slice(buf.position(), n), s);
            }
            buf.position(buf.position() + n);
            s += n;
        }
    }

    private void readFully(FileChannel in, ByteBuffer dst, long pos) throws IOException {
        long at = pos;
        while (dst.hasRemaining()) {
            int n = in.read(dst, at);
            if (n < 0) {
                throw new IOException("unexpected end of file at offset " + at + " while copying a repeated tensor");
            }
            at += n;
        }
    }

    /** Appends region {@code r} of {@code in} (this file or an earlier shard) to the output. */
    private void copyRegion(FileChannel in, WrittenRegions.Region r) throws IOException {
        if (md != null) {
            lastHash = hasher.submit(() -> hashRegion(in, r));
        }
        long pos = r.position();
        long end = pos + r.size();
        long at = bufStart;
        while (pos < end) {
            long n = in.transferTo(pos, end - pos, ch.position(at));
            if (n <= 0) {
                throw new IOException("copying back " + r.size() + " bytes of " + r.file() + " from offset "
                        + r.position() + " stopped at " + pos);
            }
            pos += n;
            at += n;
        }
        bufStart = at;
    }

    private void hashRegion(FileChannel in, WrittenRegions.Region r) {
        try {
            if (hashBuf == null) {
                hashBuf = ByteBuffer.allocateDirect(HASH_READ_BYTES);
            }
            long pos = r.position();
            long end = pos + r.size();
            while (pos < end && failure == null && !cancelled) {
                hashBuf.clear().limit((int) Math.min(hashBuf.capacity(), end - pos));
                while (hashBuf.hasRemaining()) {
                    int n = in.read(hashBuf, pos + hashBuf.position());
                    if (n < 0) {
                        throw new IOException("unexpected end of " + r.file() + " while hashing a repeated tensor");
                    }
                }
                md.update(hashBuf.flip());
                pos += hashBuf.limit();
            }
        } catch (Throwable e) {
            if (failure == null) {
                failure = e;
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
