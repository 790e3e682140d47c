package dev.upcycle.verify;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelDescription;
import dev.upcycle.model.Severity;
import dev.upcycle.model.TensorRole;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds an {@link Inspection} from a checkpoint's headers and config. Malformed containers,
 * configs and indexes throw (exit 3); disagreements between config and tensors are returned as
 * findings so the whole list can be shown.
 */
public final class Inspector {
    private final FamilyRegistry registry;

    public Inspector(FamilyRegistry registry) {
        this.registry = registry;
    }

    public Inspection inspect(Path path) {
        try (Checkpoint ckpt = Checkpoint.open(path)) {
            Map<String, TensorHeader> headers = new LinkedHashMap<>();
            Map<DType, Long> dtypes = new EnumMap<>(DType.class);
            long bytes = 0;
            long elements = 0;
            for (TensorRef ref : ckpt.tensors().values()) {
                TensorHeader h = ref.header();
                headers.put(h.name(), h);
                dtypes.merge(h.dtype(), h.elements(), Long::sum);
                bytes += h.byteSize();
                elements += h.elements();
            }
            List<Inspection.FileInfo> files = new ArrayList<>();
            for (Path f : ckpt.files()) {
                files.add(new Inspection.FileInfo(f.getFileName().toString(), size(f), countIn(ckpt, f)));
            }
            List<Finding> problems = new ArrayList<>();
            for (String w : ckpt.warnings()) {
                problems.add(new Finding(Severity.WARNING, ErrorKind.AmbiguousCheckpoint, null, w));
            }
            try {
                ckpt.modelFiles().sideFiles(); // convert and train would refuse the model for it
            } catch (UpcycleException e) {
                problems.add(new Finding(Severity.ERROR, e.kind(), null, e.where() + ": " + e.why()));
            }
            ModelConfig config = null;
            long parameters = elements;
            long active = elements;
            if (ckpt.configFile().isPresent()) {
                config = ModelConfig.read(ckpt.configFile().get(), registry);
                ModelDescription desc = ModelDescription.of(config.family(), config, headers);
                problems.addAll(desc.check());
                if (desc.tiedHeadNeedsByteCheck()) {
                    checkTiedHead(ckpt, config, problems);
                }
                parameters = desc.totalParameters();
                active = desc.activeParameters();
            } else if (java.nio.file.Files.isDirectory(path)) {
                // A checkpoint directory whose weights have no config cannot be loaded or converted by
                // anything: an error, not a blank. A lone .safetensors file needs no config.
                problems.add(new Finding(Severity.ERROR, ErrorKind.InvalidConfig, "", "no config.json beside the "
                        + "weights; nothing can load this checkpoint without it"));
            }
            return new Inspection(ckpt.directory(), ckpt.index().isPresent(), files, headers.size(), dtypes, bytes,
                    config, parameters, active, problems);
        }
    }

    private static void checkTiedHead(Checkpoint ckpt, ModelConfig config, List<Finding> problems) {
        String head = config.family().tensorName(TensorRole.LM_HEAD);
        String embed = config.family().tensorName(TensorRole.EMBED);
        if (!TensorBytes.equal(ckpt.tensor(head), ckpt.tensor(embed))) {
            problems.add(new Finding(Severity.ERROR, ErrorKind.ConfigConflict, head,
                    "tie_word_embeddings is true but " + head + " differs from " + embed));
        }
    }

    private static int countIn(Checkpoint ckpt, Path file) {
        int n = 0;
        for (TensorRef ref : ckpt.tensors().values()) {
            SafetensorsFile f = ref.file();
            if (f.path().equals(file)) {
                n++;
            }
        }
        return n;
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            return -1;
        }
    }
}
