package dev.upcycle.verify;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelDescription;
import dev.upcycle.model.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
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
        try (ModelSource src = ModelSource.open(path, registry)) {
            Checkpoint ckpt = src.checkpoint();
            Map<DType, Long> dtypes = new EnumMap<>(DType.class);
            long bytes = 0;
            long elements = 0;
            for (TensorHeader h : src.headers().values()) {
                dtypes.merge(h.dtype(), h.elements(), Long::sum);
                bytes += h.byteSize();
                elements += h.elements();
            }
            List<Inspection.FileInfo> files = new ArrayList<>();
            for (Path f : ckpt.files()) {
                files.add(new Inspection.FileInfo(f.getFileName().toString(), size(f), countIn(ckpt, f)));
            }
            ModelDescription desc = src.description().orElse(null);
            long parameters = desc == null ? elements : desc.totalParameters();
            long active = desc == null ? elements : desc.activeParameters();
            return new Inspection(ckpt.directory(), ckpt.index().isPresent(), files, src.headers().size(), dtypes,
                    bytes, src.config().orElse(null), parameters, active, src.findings());
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
