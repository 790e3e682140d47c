package dev.upcycle.convert;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelDescription;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
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
        Checkpoint ckpt = Checkpoint.open(dir);
        try {
            Path configFile = ckpt.configFile().orElseThrow(() -> new UpcycleException(ErrorKind.InvalidConfig,
                    dir.toString(), "no config.json next to the weights"));
            ModelConfig config = ModelConfig.read(configFile, registry);
            ckpt.modelFiles().sideFiles();
            Map<String, TensorHeader> headers = new LinkedHashMap<>();
            for (TensorRef ref : ckpt.tensors().values()) {
                headers.put(ref.name(), ref.header());
            }
            ModelDescription desc = ModelDescription.of(config.family(), config, headers);
            desc.throwIfInvalid();
            List<String> warnings = new ArrayList<>(ckpt.warnings());
            for (Finding f : desc.check()) {
                warnings.add(f.message() + (f.tensor() == null || f.tensor().isEmpty() ? "" : " (" + f.tensor() + ")"));
            }
            if (desc.tiedHeadNeedsByteCheck()) {
                String head = config.family().tensorName(TensorRole.LM_HEAD);
                String embed = config.family().tensorName(TensorRole.EMBED);
                if (!TensorBytes.equal(ckpt.tensor(head), ckpt.tensor(embed))) {
                    throw new UpcycleException(ErrorKind.ConfigConflict, head,
                            "tie_word_embeddings is true but " + head + " differs from " + embed);
                }
            }
            return new SourceModel(ckpt, config, headers, warnings);
        } catch (RuntimeException e) {
            try {
                ckpt.close();
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
