package dev.upcycle.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads a range of a floating tensor's elements as floats, one bounded chunk at a time, so a
 * tensor of any size can be scanned (e.g. for NaN/Inf) without holding it in memory.
 * Not thread-safe; obtain one from {@link SafetensorsFile#floatCursor(String, long, long)}.
 */
public final class FloatCursor implements AutoCloseable {
    private final SafetensorsFile file;
    private final TensorHeader tensor;
    private final String where;
    private final int width;
    private final ByteBuffer buffer;
    private long nextElement;
    private long remaining;

    FloatCursor(SafetensorsFile file, TensorHeader tensor, long firstElement, long count, int chunkBytes) {
        this.file = file;
        this.tensor = tensor;
        this.where = TensorNames.where(file.where(), tensor.name());
        this.width = tensor.dtype().bytes();
        this.nextElement = firstElement;
        this.remaining = count;
        long bytes = Math.min((long) chunkBytes, count * width);
        this.buffer = ByteBuffer.allocate((int) Math.max(bytes, width)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Elements not yet read. */
    public long remaining() {
        return remaining;
    }

    /** Index (in the tensor) of the next element {@link #read} returns. */
    public long position() {
        return nextElement;
    }

    /**
     * Reads up to {@code len} elements into {@code dst[off..]}, at most one chunk.
     *
     * @return the number of elements read; 0 only when nothing remains or {@code len} is 0
     */
    public int read(float[] dst, int off, int len) {
        int n = (int) Math.min(Math.min(len, remaining), buffer.capacity() / width);
        if (n <= 0) {
            return 0;
        }
        buffer.clear().limit(n * width);
        file.readBytes(tensor, nextElement * width, buffer);
        buffer.flip();
        FloatCodec.decode(tensor.dtype(), buffer, dst, off, n, where);
        nextElement += n;
        remaining -= n;
        return n;
    }

    /** Holds no native resource; present so callers scope cursors with try-with-resources. */
    @Override
    public void close() {
    }
}
