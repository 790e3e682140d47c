package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.JsonFiles;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.io.OutputDirectory;
import dev.upcycle.io.Provenance;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.SafetensorsWriter;
import dev.upcycle.io.Shape;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.io.WrittenCheckpoint;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Writes models and resumable checkpoints in the input's own family format and dtypes.
 *
 * <p>{@code checkpoints/step-N} is complete or absent ({@link OutputDirectory}): the model
 * (config.json copied from the input, weights in state-dict order, tokenizer files),
 * {@code optimizer.safetensors} (AdamW moments {@code m.NAME}, {@code v.NAME}, the step in the
 * metadata, and FP32 master weights {@code w.NAME} when the model's dtype is not F32, so a
 * resume continues bit for bit), {@code trainer-state.json}, and {@code upcycle.json}. The final
 * model is written into the run directory itself, with {@code upcycle.json} written last.
 */
public final class Checkpointing {
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    static final long MAX_SHARD = 5L << 30;
    private final Path input;
    /** The input's config.json and side files, checked by the link rule once, copied by content. */
    private final ModelFiles inputFiles;
    private final List<String> copied = new ArrayList<>();
    private final ModelConfig config;
    private final Map<String, DType> dtypes;
    private final ObjectNode options;

    /** @param input the model the run started from (its config and dtypes are kept) */
    public Checkpointing(Path input, ModelConfig config, ObjectNode options) {
        this.input = input;
        this.config = config;
        this.options = options;
        this.dtypes = new HashMap<>();
        try (Checkpoint c = Checkpoint.open(input)) {
            c.tensors().forEach((name, ref) -> dtypes.put(name, ref.header().dtype()));
            inputFiles = c.modelFiles();
        }
        copied.add(inputFiles.file("config.json", ErrorKind.InvalidConfig).getFileName().toString());
        inputFiles.sideFiles().forEach(p -> copied.add(p.getFileName().toString()));
    }

    /** Writes {@code checkpoints/step-N} complete or absent, replacing an older one of that name. */
    public Path save(Path target, Map<String, NDArray> parameters, AdamW optimizer, TrainerState state) {
        try (OutputDirectory out = OutputDirectory.create(target, true)) {
            Path dir = out.staging();
            writeModel(dir, parameters);
            writeOptimizer(dir.resolve(OPTIMIZER_FILE), parameters, optimizer);
            JsonFiles.write(dir.resolve(TrainerState.FILE_NAME), state.toJson());
            provenance(dir, Provenance.digestAll(dir));
            out.commit();
            return out.target();
        }
    }

    /** Writes the final model into the run directory; {@code upcycle.json} (listing the model files) comes last. */
    public void saveFinal(Path runDir, Map<String, NDArray> parameters) {
        List<Path> files = writeModel(runDir, parameters);
        List<FileDigest> digests = new ArrayList<>();
        for (Path f : files) {
            digests.add(FileDigest.of(runDir, f));
        }
        digests.sort(java.util.Comparator.comparing(FileDigest::path));
        provenance(runDir, digests);
    }

    private void provenance(Path dir, List<FileDigest> outputs) {
        List<FileDigest> inputs = List.of(FileDigest.of(input, inputFiles.file("config.json", ErrorKind.InvalidConfig)));
        new Provenance(version(), "train", options, inputs, outputs, null).write(dir);
    }

    /** config.json, side files and weights; returns the files written. */
    private List<Path> writeModel(Path dir, Map<String, NDArray> parameters) {
        List<Path> files = new ArrayList<>();
        try {
            for (String name : copied) {
                inputFiles.copy(name, dir.resolve(name));
                files.add(dir.resolve(name));
            }
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, dir.toString(), "cannot copy the model's files: " + e);
        }
        List<TensorSpec> specs = new ArrayList<>();
        for (ExpectedTensor t : config.expectedTensors()) {
            specs.add(new TensorSpec(t.name(), dtypes.getOrDefault(t.name(), DType.F32), t.shape()));
        }
        WrittenCheckpoint written = CheckpointWriter.write(dir, specs, MAX_SHARD, Map.of(), (spec, sink) -> {
            float[] v = parameters.get(spec.name()).toFloatArray();
            sink.writeFloats(v, 0, v.length);
        });
        files.addAll(written.files());
        written.index().ifPresent(files::add);
        return files;
    }

    private void writeOptimizer(Path file, Map<String, NDArray> parameters, AdamW optimizer) {
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        optimizer.firstMoments().forEach((n, a) -> tensors.put("m." + n, a));
        optimizer.secondMoments().forEach((n, a) -> tensors.put("v." + n, a));
        parameters.forEach((n, a) -> {
            if (dtypes.getOrDefault(n, DType.F32) != DType.F32) {
                tensors.put("w." + n, a);
            }
        });
        List<TensorSpec> specs = new ArrayList<>();
        tensors.forEach((n, a) -> specs.add(new TensorSpec(n, DType.F32, new Shape(a.getShape().getShape()))));
        SafetensorsWriter.write(file, specs, Map.of("step", Long.toString(optimizer.stepCount()),
                "betas", AdamW.BETA1 + "," + AdamW.BETA2, "eps", Double.toString(AdamW.EPS)), (spec, sink) -> {
                    float[] v = tensors.get(spec.name()).toFloatArray();
                    sink.writeFloats(v, 0, v.length);
                });
    }

    /**
     * Restores the moments (and master weights) of {@code dir}'s optimizer file, checked against the
     * model's parameters and the trainer state's step before anything is changed.
     */
    public static void restore(Path dir, Map<String, NDArray> parameters, AdamW optimizer, int stateStep) {
        Path file = ModelFiles.of(dir).optional(OPTIMIZER_FILE).orElseThrow(() -> new UpcycleException(
                ErrorKind.InvalidRunState, dir.resolve(OPTIMIZER_FILE).toString(), "no optimizer state",
                "--resume takes a checkpoints/step-N directory of a train run"));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            String stepText = f.metadata().get("step");
            if (stepText == null || !stepText.matches("\\d{1,10}") || Long.parseLong(stepText) != stateStep) {
                throw new UpcycleException(ErrorKind.InvalidRunState, file + " (metadata 'step')", "is "
                        + (stepText == null ? "missing" : "\"" + stepText + "\"") + "; the trainer state is at step "
                        + stateStep);
            }
            Map<String, float[]> m = new HashMap<>();
            Map<String, float[]> v = new HashMap<>();
            Map<String, float[]> w = new HashMap<>();
            for (Map.Entry<String, NDArray> p : parameters.entrySet()) {
                String name = p.getKey();
                long size = p.getValue().size();
                m.put(name, sized(f, "m." + name, size));
                v.put(name, sized(f, "v." + name, size));
                if (f.contains("w." + name)) {
                    w.put(name, sized(f, "w." + name, size));
                }
            }
            w.forEach((name, values) -> AdamW.copyInto(parameters.get(name), values));
            optimizer.restore(stateStep, m, v);
        }
    }

    /** A tensor of the optimizer file that must hold exactly {@code size} values. */
    private static float[] sized(SafetensorsFile f, String name, long size) {
        if (!f.contains(name)) {
            throw new UpcycleException(ErrorKind.InvalidRunState, f.path() + " (tensor " + name + ")",
                    "missing from the optimizer state");
        }
        long have = f.tensor(name).elements();
        if (have != size) {
            throw new UpcycleException(ErrorKind.InvalidRunState, f.path() + " (tensor " + name + ")",
                    have + " values; the model's parameter has " + size);
        }
        return f.readFloats(name);
    }

    private static String version() {
        try (InputStream in = Checkpointing.class.getResourceAsStream("/dev/upcycle/version.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
