package dev.upcycle.io;

import java.io.IOException;

/**
 * Produces the bytes of each tensor while a file is written. Called once per tensor, in file
 * order, after the header is on disk; it must write exactly {@code spec.byteSize()} bytes.
 */
@FunctionalInterface
public interface TensorFiller {
    void fill(TensorSpec spec, TensorSink sink) throws IOException;
}
