package dev.upcycle.io;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
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
 * Collects writes into direct buffers that a writer thread hashes (optionally) and writes in
 * order, so producing the next bytes (reading, scaling, encoding) overlaps the write of the
 * previous ones; counts bytes per tensor. Failures of the writer thread surface on the next
 * call of the producer.
 */
final class PipelinedFileSink implements TensorSink, AutoCloseable {
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

    PipelinedFileSink(FileChannel ch, String file, boolean hash) {
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

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
