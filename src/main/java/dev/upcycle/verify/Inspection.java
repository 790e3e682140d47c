package dev.upcycle.verify;

import dev.upcycle.io.DType;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What {@code inspect} reports about a checkpoint, read from headers and config only.
 *
 * @param config      the parsed config, or null when the checkpoint has none
 * @param files       every weight file with its size and tensor count
 * @param dtypes      elements per dtype
 * @param parameters  total parameters (from the config when present, else counted from tensors)
 * @param active      parameters used per token (equal to total for dense models)
 * @param problems    config/tensor disagreements and checkpoint warnings
 */
public record Inspection(Path path, boolean sharded, List<FileInfo> files, int tensorCount,
                         Map<DType, Long> dtypes, long tensorBytes, ModelConfig config, long parameters,
                         long active, List<Finding> problems) {

    public Inspection {
        files = List.copyOf(files);
        dtypes = Map.copyOf(dtypes);
        problems = List.copyOf(problems);
    }

    /** One weight file. */
    public record FileInfo(String name, long size, int tensors) {
    }

    public boolean hasErrors() {
        return problems.stream().anyMatch(Finding::isError);
    }
}
