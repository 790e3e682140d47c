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
}
