package dev.upcycle.io;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Where each complete tensor of a checkpoint being written lies (its file, under the final name,
 * and byte range), so a later tensor with the same bytes can be copied from there instead of
 * produced again ({@link TensorSink#repeat}). Only names and positions: memory does not grow
 * with tensor size.
 */
final class WrittenRegions {
    /** Bytes {@code [position, position + size)} of {@code file}. */
    record Region(Path file, long position, long size) {
    }

    private final Map<String, Region> byName = new HashMap<>();

    void add(String tensor, Region region) {
        byName.put(tensor, region);
    }

    /** The region of {@code tensor}, or null when it was not written (yet). */
    Region get(String tensor) {
        return byName.get(tensor);
    }
}
