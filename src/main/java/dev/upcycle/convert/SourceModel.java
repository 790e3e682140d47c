package dev.upcycle.convert;

import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/** A dense checkpoint opened and validated for conversion: config, headers and open shards. */
public final class SourceModel implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final ModelConfig config;
    private final Map<String, TensorHeader> headers;
    private final List<String> warnings;

    private SourceModel(Checkpoint checkpoint, ModelConfig config, Map<String, TensorHeader> headers,
                        List<String> warnings) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.headers = Collections.unmodifiableMap(headers);
        this.warnings = List.copyOf(warnings);
    }

    /**
     * Opens {@code dir}, reads its config and checks every tensor against it, and every side file
     * present against the link rule (they are copied into the output).
     *
     * @throws UpcycleException any checkpoint or config error, UnsafePath for a side file (exit 3)
     */
    public static SourceModel open(Path dir, FamilyRegistry registry) {
        ModelSource src = ModelSource.open(dir, registry);
        try {
            ModelConfig config = src.requireConfig();
            src.sideFileProblem().ifPresent(e -> {
                throw e;
            });
            src.throwIfInvalid();
            src.tiedHeadMismatch().ifPresent(f -> {
                throw new UpcycleException(f.kind(), f.tensor(), f.message());
            });
            // Only warnings are left.
            List<String> warnings = new ArrayList<>();
            for (Finding f : src.findings()) {
                warnings.add(f.message() + (f.tensor() == null || f.tensor().isEmpty() ? "" : " (" + f.tensor() + ")"));
            }
            return new SourceModel(src.checkpoint(), config, src.headers(), warnings);
        } catch (RuntimeException e) {
            try {
                src.close();
            } catch (RuntimeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public ModelConfig config() {
        return config;
    }

    public Map<String, TensorHeader> headers() {
        return headers;
    }

    /** Non-fatal findings from reading the checkpoint. */
    public List<String> warnings() {
        return warnings;
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
