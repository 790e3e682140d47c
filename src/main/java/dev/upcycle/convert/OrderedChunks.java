package dev.upcycle.convert;

import dev.upcycle.error.Cancellation;
import dev.upcycle.io.TensorSink;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Produces the chunks of one tensor on worker threads and writes them to the sink in order, from
 * the calling thread. A chunk is a pure function of its index (a range of the source read, scaled
 * or averaged), so the bytes and any error are those of producing the chunks one after another:
 * the first failing chunk in order is the one reported, after every chunk before it was written.
 * At most {@link #window} chunks exist at once, so memory stays flat whatever the tensor size.
 */
final class OrderedChunks implements AutoCloseable {
    /** Bytes of a chunk's byte buffer, and of a worker's read buffer. */
    static final int CHUNK_BYTES = 4 << 20;
    /** Floats of a chunk's float array. */
    static final int CHUNK_FLOATS = 1 << 20;

    /** What a chunk produced: bytes for {@link TensorSink#write}, or floats for {@link TensorSink#writeFloats}. */
    static final class Chunk {
        private ByteBuffer bytes;
        private float[] floats;
        private int floatCount = -1;

        /** A cleared little-endian direct buffer of {@link #CHUNK_BYTES}; what lies between position and limit when the task ends is written. */
        ByteBuffer bytes() {
            if (bytes == null) {
                bytes = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            }
            floatCount = -1;
            return bytes.clear();
        }

        /** An array of {@link #CHUNK_FLOATS}; the task then calls {@link #floats(int)} with the count to write. */
        float[] floatArray() {
            if (floats == null) {
                floats = new float[CHUNK_FLOATS];
            }
            return floats;
        }

        void floats(int count) {
            floatCount = count;
        }

        private void writeTo(TensorSink sink) {
            if (floatCount >= 0) {
                sink.writeFloats(floats, 0, floatCount);
            } else {
                sink.write(bytes);
            }
        }
    }

    /** A worker thread's own buffers, reused across chunks. */
    static final class Scratch {
        private ByteBuffer read;
        private ByteBuffer[] inputs = new ByteBuffer[0];
        private float[][] decoded = new float[0][];
        private double[] block;

        /** A cleared little-endian direct buffer of {@link #CHUNK_BYTES}. */
        ByteBuffer read() {
            if (read == null) {
                read = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            }
            return read.clear();
        }

        /** Seed {@code seed}'s little-endian direct buffer for a merge, cleared with its limit at {@code bytes}. */
        ByteBuffer input(int seed, int bytes) {
            if (seed >= inputs.length) {
                inputs = java.util.Arrays.copyOf(inputs, seed + 1);
            }
            if (inputs[seed] == null || inputs[seed].capacity() < bytes) {
                // At least a BF16 chunk, so small tensors (norms) before big ones do not reallocate.
                inputs[seed] = ByteBuffer.allocateDirect(Math.max(bytes, 2 * CHUNK_FLOATS)).order(ByteOrder.LITTLE_ENDIAN);
            }
            return inputs[seed].clear().limit(bytes);
        }

        /** Seed {@code seed}'s array of {@link #CHUNK_FLOATS} for a merge input decoded to floats. */
        float[] decoded(int seed) {
            if (seed >= decoded.length) {
                decoded = java.util.Arrays.copyOf(decoded, seed + 1);
            }
            if (decoded[seed] == null) {
                decoded[seed] = new float[CHUNK_FLOATS];
            }
            return decoded[seed];
        }

        /** The sums of one {@link MeanKernel#BLOCK}. */
        double[] block() {
            if (block == null) {
                block = new double[MeanKernel.BLOCK];
            }
            return block;
        }
    }

    @FunctionalInterface
    interface Task {
        /** Produces chunk {@code index} into {@code out}, using {@code scratch} for anything else. */
        void produce(int index, Chunk out, Scratch scratch);
    }

    /** Worker threads; {@code upcycle.convertThreads} overrides the number of cores. */
    static int defaultThreads() {
        return Math.max(1, Integer.getInteger("upcycle.convertThreads", Runtime.getRuntime().availableProcessors()));
    }

    private final ExecutorService pool;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    private final ArrayDeque<Chunk> free = new ArrayDeque<>();
    private final int window;

    OrderedChunks(int threads) {
        AtomicInteger n = new AtomicInteger();
        pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "upcycle-convert-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        // Every worker busy, one chunk ready behind each, one being written.
        window = 2 * threads + 1;
        for (int i = 0; i < window; i++) {
            free.add(new Chunk());
        }
    }

    /** Produces chunks {@code 0..count-1} with {@code task} and writes each to {@code sink} in order. */
    void write(TensorSink sink, int count, Task task) {
        ArrayDeque<Future<Chunk>> inFlight = new ArrayDeque<>();
        int next = 0;
        boolean done = false;
        try {
            while (next < count || !inFlight.isEmpty()) {
                while (next < count && !free.isEmpty()) {
                    Chunk c = free.poll();
                    int index = next++;
                    inFlight.add(pool.submit(() -> {
                        task.produce(index, c, scratch.get());
                        return c;
                    }));
                }
                Chunk c = result(inFlight.poll());
                try {
                    Cancellation.check();
                    c.writeTo(sink);
                } finally {
                    free.add(c);
                }
            }
            done = true;
        } finally {
            if (!done) {
                settle(inFlight);
            }
        }
    }

    /**
     * The future's value, waiting through interrupts (stopping is done by {@link Cancellation});
     * the task's own exception is rethrown as it was. The input scans wait the same way.
     */
    static <T> T result(Future<T> f) {
        try {
            return getUninterruptibly(f);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(cause);
        }
    }

    /** After a failure: no worker may still use a chunk or a source file once this returns. */
    private void settle(ArrayDeque<Future<Chunk>> inFlight) {
        for (Future<Chunk> f : inFlight) {
            f.cancel(false);
        }
        for (Future<Chunk> f : inFlight) {
            try {
                getUninterruptibly(f);
            } catch (ExecutionException | CancellationException ignored) {
                // The first failure in order is already propagating.
            }
        }
        free.clear();
        for (int i = 0; i < window; i++) {
            free.add(new Chunk());
        }
    }

    /** Waits for a chunk; an interrupt is kept for later, since stopping is done by {@link Cancellation}. */
    private static <T> T getUninterruptibly(Future<T> f) throws ExecutionException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        pool.shutdown();
    }
}
