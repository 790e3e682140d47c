package dev.upcycle.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The writer's pipeline buffers, kept from one output file to the next: a direct buffer's memory
 * is freed only when the garbage collector finds it unreachable, which a conversion that copies
 * bytes (and allocates almost nothing on the heap) may put off for many shards, so allocating
 * them per file would let memory grow with the number of shards.
 */
final class PipeBuffers {
    /** Every buffer's address is a multiple of this, which covers each block size {@link DirectWrites} accepts. */
    static final int ALIGNMENT = 64 << 10;
    /** Buffers kept for reuse at most (one sink's worth, and a sink writing beside it). */
    private static final int KEEP = 2 * PipelinedFileSink.PIPE_BUFFERS;
    private static final Deque<ByteBuffer> POOL = new ArrayDeque<>();

    private PipeBuffers() {
    }

    /** A cleared little-endian direct buffer of {@code capacity} bytes, aligned to {@link #ALIGNMENT}. */
    static synchronized ByteBuffer take(int capacity) {
        for (var it = POOL.iterator(); it.hasNext(); ) {
            ByteBuffer b = it.next();
            if (b.capacity() == capacity) {
                it.remove();
                return b.clear();
            }
        }
        ByteBuffer raw = ByteBuffer.allocateDirect(capacity + ALIGNMENT);
        return raw.alignedSlice(ALIGNMENT).slice(0, capacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Returns a buffer that no thread uses any more. */
    static synchronized void give(ByteBuffer b) {
        if (POOL.size() < KEEP) {
            POOL.push(b.clear().order(ByteOrder.LITTLE_ENDIAN));
        }
    }
}
