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
 * per tensor. When hashing, a thread of its own hashes each buffer after its write, and the
 * bytes of a channel-to-channel copy by reading its source range while the kernel copies it, so
 * the file's SHA-256 costs no second pass and no copy loses its in-kernel path. Failures of the
 * writer and hasher threads surface on the next call of the producer. A tensor that repeats an
 * earlier one is copied from the output (or an earlier shard) inside the kernel.
 */
final class PipelinedFileSink implements TensorSink, AutoCloseable {
    /** Bytes per pipeline buffer. */
    static final int PIPE_BYTES = 4 << 20;
    /** Pipeline buffers: one being filled, the others queued for or in the writer and hasher threads. */
    static final int PIPE_BUFFERS = 4;
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

    private final FileChannel ch;
    private final String file;
    /** The file's final name, as {@link WrittenRegions} records it; null when nothing is repeated. */
    private final Path target;
    private final WrittenRegions regions;
    private final MessageDigest md;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(DAEMONS);
    private final ExecutorService syncer;
    /** Hashes, in file order, written buffers and the source ranges of channel copies; null when not hashing. */
    private final ExecutorService hasher;
    private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(PIPE_BUFFERS);
    private final AtomicBoolean syncing = new AtomicBoolean();
    private volatile Throwable failure;
    private volatile boolean cancelled;
    /** The channel's position after its last completed write: the bytes before it can be read back. */
    private volatile long flushed;
    private ByteBuffer buf;
    private Future<?> last;
    private Future<?> lastHash;
    /** The hasher's read buffer for copied ranges, allocated on first use. */
    private ByteBuffer hashBuf;
    private long unsynced;
    private TensorSpec spec;
    private long expected;
    private long written;

    PipelinedFileSink(FileChannel ch, String file, boolean hash) {
        this(ch, file, hash, null, null);
    }

    /**
     * @param ch      open for reading too when {@code regions} is given
     * @param target  the final name of the file {@code ch} writes
     * @param regions the complete tensors of this checkpoint, for {@link #repeat}; null: none
     */
    PipelinedFileSink(FileChannel ch, String file, boolean hash, Path target, WrittenRegions regions) {
        this.ch = ch;
        this.file = file;
        this.target = target;
        this.regions = regions;
        this.md = hash ? sha256() : null;
        this.syncer = SYNC_BYTES > 0 ? Executors.newSingleThreadExecutor(DAEMONS) : null;
        this.hasher = hash ? Executors.newSingleThreadExecutor(DAEMONS) : null;
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

    /**
     * On the writer thread: write, then hand the buffer to the hasher or recycle it; start a
     * background sync now and then.
     */
    private void writeOut(ByteBuffer b) {
        boolean hashing = false;
        try {
            if (failure == null && !cancelled) {
                int n = b.remaining();
                ByteBuffer whole = b.duplicate();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                flushed = ch.position();
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
                if (md != null) {
                    // Submitted from this one thread in write order, so hashed in file order.
                    lastHash = hasher.submit(() -> hashOut(b, whole));
                    hashing = true;
                }
            }
        } catch (Throwable t) {
            if (failure == null) {
                failure = t;
            }
        } finally {
            if (!hashing) {
                recycle(b);
            }
        }
    }

    /** On the hasher thread: hash a written buffer, then recycle it. */
    private void hashOut(ByteBuffer b, ByteBuffer whole) {
        try {
            if (failure == null && !cancelled) {
                md.update(whole);
            }
        } catch (Throwable t) {
            if (failure == null) {
                failure = t;
            }
        } finally {
            recycle(b);
        }
    }

    /**
     * On the hasher thread: hash bytes {@code [offset, offset + count)} of a source tensor, the
     * bytes the producer copies channel to channel meanwhile (they are then in the page cache).
     */
    private void hashRange(SafetensorsFile f, TensorHeader t, long offset, long count) {
        try {
            if (hashBuf == null) {
                hashBuf = ByteBuffer.allocateDirect(PIPE_BYTES);
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
            writer.awaitTermination(1, TimeUnit.MINUTES);
            if (hasher != null) {
                hasher.awaitTermination(1, TimeUnit.MINUTES);
            }
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
            // Channel to channel, in the kernel; the hasher reads the same range meanwhile.
            drain();
            if (md != null) {
                f.requireRange(t, offset, count);
                lastHash = hasher.submit(() -> hashRange(f, t, offset, count));
            }
            try {
                f.transferTo(t, offset, count, ch);
                flushed = ch.position();
            } catch (UpcycleException e) {
                // The copy names the source; a full or read-only disk is about the output.
                throw new UpcycleException(e.kind(), TensorNames.where(file, spec == null ? t.name() : spec.name()),
                        "copying " + t.name() + " from " + f.path() + " failed: " + e.why(), e.hint(), e);
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

    @Override
    public boolean repeat(String earlier) {
        WrittenRegions.Region r = regions == null ? null : regions.get(earlier);
        if (r == null || spec == null || written != 0 || r.size() != expected) {
            return false;
        }
        reserve(r.size());
        try {
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

    /** Appends region {@code r} of {@code in} (this file or an earlier shard) to the output. */
    private void copyRegion(FileChannel in, WrittenRegions.Region r) throws IOException {
        if (md != null) {
            lastHash = hasher.submit(() -> hashRegion(in, r));
        }
        long pos = r.position();
        long end = pos + r.size();
        while (pos < end) {
            long n = in.transferTo(pos, end - pos, ch);
            if (n <= 0) {
                throw new IOException("copying back " + r.size() + " bytes of " + r.file() + " from offset "
                        + r.position() + " stopped at " + pos);
            }
            pos += n;
        }
        flushed = ch.position();
    }

    private void hashRegion(FileChannel in, WrittenRegions.Region r) {
        try {
            if (hashBuf == null) {
                hashBuf = ByteBuffer.allocateDirect(PIPE_BYTES);
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
