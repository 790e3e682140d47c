package dev.upcycle.io;

import java.nio.ByteBuffer;

/** Where a {@link TensorFiller} writes the bytes of one tensor. */
public interface TensorSink {
    /** The tensor being written. */
    TensorSpec spec();

    /** Bytes written so far for this tensor. */
    long written();

    /** Appends the remaining bytes of {@code src} (little-endian element data). */
    void write(ByteBuffer src);

    /**
     * Copies a tensor of an open file channel-to-channel, without a heap buffer. Its byte
     * size must fit in what remains of this tensor; the dtype is not converted.
     */
    void transferFrom(SafetensorsFile file, TensorHeader tensor);

    /**
     * Copies bytes {@code [offset, offset + count)} of a tensor channel-to-channel (contiguous
     * rows of a matrix); the dtype is not converted.
     */
    void transferFrom(SafetensorsFile file, TensorHeader tensor, long offset, long count);

    /**
     * Converts {@code values[off..off+len)} to this tensor's dtype (round to nearest even) and
     * appends them. A finite value too large for F16 is a {@code DtypeOverflow}.
     */
    void writeFloats(float[] values, int off, int len);

    /**
     * Writes again the bytes of {@code earlier}, a tensor of the same checkpoint written in full
     * before this one with the same dtype and size, by reading them back from the output, when
     * nothing of this tensor is written yet. Returns false, having written nothing, when this sink
     * cannot; the caller then produces the bytes itself.
     */
    default boolean repeat(String earlier) {
        return false;
    }

    /**
     * Says that later tensors will {@link #repeat} this one, before any of its bytes: a sink that
     * writes around the page cache keeps these bytes in it, so reading them back costs no disk read.
     */
    default void keepCached() {
    }
}
