package dev.upcycle.io;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What {@link CheckpointWriter#write} produced.
 *
 * @param files     the safetensors files, in shard order
 * @param index     {@code model.safetensors.index.json} when sharded
 * @param totalSize sum of tensor bytes, as in the index's {@code total_size}
 */
public record WrittenCheckpoint(Path directory, List<Path> files, Optional<Path> index, long totalSize) {
    public WrittenCheckpoint {
        files = List.copyOf(files);
    }
}
