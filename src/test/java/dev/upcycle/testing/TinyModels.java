package dev.upcycle.testing;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.JsonFiles;
import dev.upcycle.io.Provenance;
import dev.upcycle.io.TensorRef;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.math.SeededGaussian;
import dev.upcycle.model.ConfigWriter;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.Family;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import dev.upcycle.synth.Synthesizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The one maker of tiny checkpoints (config.json plus safetensors, in a test's temporary
 * directory; tests never read real models). Three sizes, because tests assert on them:
 * {@link #dense} (convert tests: d=32, F=64, V=64), {@link #small} (runtime, verify and eval tests:
 * d=32, F=48, V=97, MoE families too) and {@link #config} (the reference tests: every size given,
 * one layer). Values are random ({@link Synthesizer}, seeded) or given tensor by tensor ({@link #write}).
 */
public final class TinyModels {
    public static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();
    private static final long SEED = 7;

    private TinyModels() {
    }

    // ---- random checkpoints written by synth -----------------------------------------------

    /** Writes a random checkpoint of {@code config} drawn from {@code seed}, in shards of at most {@code shardBytes}. */
    public static Path synth(Path dir, ModelConfig config, DType dtype, long seed, long shardBytes) {
        createDirectories(dir);
        Synthesizer.write(config, dtype, seed, shardBytes, dir);
        return dir;
    }

    /** A 2-layer model of {@code family} after {@code tweak}: d=32, 4 heads (2 kv) of 8, F=64, V=64 (no upcycle.json). */
    public static Path dense(Path dir, String family, DType dtype, UnaryOperator<ModelConfig.Builder> tweak) {
        return dense(dir, family, dtype, SEED, tweak);
    }

    /** {@link #dense(Path, String, DType, UnaryOperator)} drawn from {@code seed} (merges take several seeds). */
    public static Path dense(Path dir, String family, DType dtype, long seed, UnaryOperator<ModelConfig.Builder> tweak) {
        Family f = FAMILIES.byName(family);
        ModelConfig.Builder b = ModelConfig.builder(f).numHiddenLayers(2).hiddenSize(32).numAttentionHeads(4)
                .numKeyValueHeads(2).headDim(8).intermediateSize(64).vocabSize(64).maxPositionEmbeddings(256);
        if (f.declares("sliding_window")) {
            b.slidingWindow(null);
        }
        return synth(dir, tweak.apply(b).build(), dtype, seed, 1L << 40);
    }

    /** {@link #dense(Path, String, DType, UnaryOperator)} in F32 as it is. */
    public static Path dense(Path dir, String family) {
        return dense(dir, family, DType.F32, b -> b);
    }

    /** The llama model of {@link #dense} with parallel blocks and {@code norms} norms per block (native format). */
    public static Path parallel(Path dir, int norms, long seed) {
        ModelConfig llama = ModelConfig.builder(FAMILIES.byName("llama")).numHiddenLayers(2).hiddenSize(32)
                .numAttentionHeads(4).numKeyValueHeads(2).headDim(8).intermediateSize(64).vocabSize(64)
                .maxPositionEmbeddings(256).build();
        return synth(dir, Synthesizer.parallelBlocks(llama, norms), DType.F32, seed, 1L << 40);
    }

    /** A small config of {@code family}: 2 layers, hidden 32, 4 heads / 2 kv heads of 8, MLP 48, vocabulary 97. */
    public static ModelConfig.Builder small(String family) {
        Family f = FAMILIES.byName(family);
        ModelConfig.Builder b = ModelConfig.builder(f).numHiddenLayers(2).hiddenSize(32).numAttentionHeads(4)
                .numKeyValueHeads(2).headDim(8).intermediateSize(48).vocabSize(97).maxPositionEmbeddings(4096);
        if (f.moe()) {
            b.numExperts(4).numExpertsPerTok(2).expertWidth(f.name().equals("mixtral") ? 48 : 16);
            if (f.name().equals("qwen2_moe")) {
                b.sharedExpertWidth(24).normTopkProb(false);
            }
        }
        if (f.declares("sliding_window")) {
            b.slidingWindow(null);
        }
        return b;
    }

    /** Writes a random checkpoint of {@code config} with config.json and upcycle.json. */
    public static Path write(Path dir, ModelConfig config, DType dtype) {
        synth(dir, config, dtype, SEED, 5L << 30);
        manifest(dir);
        return dir;
    }

    /** A random {@link #small} checkpoint of {@code family} after {@code tweak}, with upcycle.json. */
    public static Path random(Path dir, String family, DType dtype, Consumer<ModelConfig.Builder> tweak) {
        ModelConfig.Builder b = small(family);
        tweak.accept(b);
        return write(dir, b.build(), dtype);
    }

    /** (Re)writes upcycle.json listing every file of {@code dir}. */
    public static void manifest(Path dir) {
        new Provenance("test", "test", null, List.of(), Provenance.digestAll(dir), null).write(dir);
    }

    /**
     * Copies dense {@code src} into {@code moeFamily} with {@code experts} copies of each MLP, a
     * random router, top-{@code k} with renormalised weights, and (Qwen2-MoE) an all-zero shared
     * expert: the function-preserving construction of docs/formats.md, "Choosing a target". When
     * {@code perturbLayer >= 0}, expert 0 of that layer gets noise added to its down projection.
     */
    public static Path upcycle(Path src, Path out, String moeFamily, int experts, int k, int perturbLayer) {
        try (Checkpoint dense = Checkpoint.open(src)) {
            ModelConfig d = ModelConfig.read(src.resolve("config.json"), FAMILIES);
            Family f = FAMILIES.byName(moeFamily);
            ModelConfig.Builder b = d.toBuilder().family(f).architectures(List.of(f.architecture()))
                    .numExperts(experts).numExpertsPerTok(k).expertWidth(d.intermediateSize());
            if (!f.name().equals("mixtral")) {
                b.normTopkProb(true);
            }
            if (f.name().equals("qwen2_moe")) {
                b.sharedExpertWidth(8);
            }
            ModelConfig m = b.build();
            Map<String, ExpectedTensor> byName = new HashMap<>();
            List<TensorSpec> specs = m.expectedTensors().stream().map(t -> {
                byName.put(t.name(), t);
                TensorRole source = denseRole(t.role());
                DType dtype = source == null ? DType.F32
                        : dense.tensor(d.family().tensorName(source, t.layer(), -1)).header().dtype();
                return new TensorSpec(t.name(), dtype, t.shape());
            }).toList();
            CheckpointWriter.write(out, specs, 5L << 30, Map.of(), (spec, sink) -> {
                ExpectedTensor t = byName.get(spec.name());
                TensorRole source = denseRole(t.role());
                float[] v;
                if (source != null) {
                    TensorRef ref = dense.tensor(d.family().tensorName(source, t.layer(), -1));
                    if (t.role() == TensorRole.EXPERT_DOWN && t.layer() == perturbLayer && t.expert() == 0) {
                        v = ref.file().readFloats(ref.name());
                        for (int i = 0; i < v.length; i++) {
                            v[i] += 0.05f * (i % 7 - 3);
                        }
                    } else {
                        sink.transferFrom(ref.file(), ref.header());
                        return;
                    }
                } else if (t.role() == TensorRole.ROUTER) {
                    SeededGaussian g = SeededGaussian.forName(SEED, t.name());
                    v = new float[(int) t.shape().elements()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) g.next(0, 1);
                    }
                } else {
                    v = new float[(int) t.shape().elements()]; // neutral shared expert and its gate
                }
                sink.writeFloats(v, 0, v.length);
            });
            JsonFiles.write(out.resolve("config.json"), ConfigWriter.toJson(m));
            manifest(out);
            return out;
        }
    }

    /** The dense tensor an MoE tensor copies, or null for tensors made new. */
    private static TensorRole denseRole(TensorRole r) {
        return switch (r) {
            case EXPERT_GATE -> TensorRole.MLP_GATE;
            case EXPERT_UP -> TensorRole.MLP_UP;
            case EXPERT_DOWN -> TensorRole.MLP_DOWN;
            case ROUTER, SHARED_EXPERT_GATE_PROJ, SHARED_EXPERT_UP, SHARED_EXPERT_DOWN, SHARED_EXPERT_ROUTER -> null;
            default -> r;
        };
    }

    // ---- hand-built checkpoints (F32 tensors + config.json) for the reference tests --------

    /** A builder for {@code family} with the given sizes, one layer, eps 1e-6 and explicit head_dim. */
    public static ModelConfig.Builder config(String family, int vocab, int hidden, int intermediate, int heads,
                                             int kvHeads, int headDim) {
        return ModelConfig.builder(FAMILIES.byName(family)).vocabSize(vocab).hiddenSize(hidden)
                .intermediateSize(intermediate).numHiddenLayers(1).numAttentionHeads(heads)
                .numKeyValueHeads(kvHeads).headDim(headDim).rmsNormEps(1e-6);
    }

    /**
     * Random values for every tensor {@code c} promises, deterministic in {@code seed} and the
     * name: norm weights {@code 1 + 0.1 g}, biases {@code 0.1 g}, matrices {@code g / sqrt(in)}.
     */
    public static Map<String, float[]> random(ModelConfig c, long seed) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (ExpectedTensor e : c.expectedTensors()) {
            out.put(e.name(), random(e, seed));
        }
        return out;
    }

    public static float[] random(ExpectedTensor e, long seed) {
        Random r = new Random(seed * 1_000_003L + e.name().hashCode());
        float[] v = new float[(int) e.shape().elements()];
        boolean norm = e.role() == TensorRole.ATTN_NORM || e.role() == TensorRole.MLP_NORM
                || e.role() == TensorRole.FINAL_NORM || e.role() == TensorRole.ATTN_Q_NORM
                || e.role() == TensorRole.ATTN_K_NORM;
        double scale = e.shape().rank() == 2 ? 1 / Math.sqrt(e.shape().dim(1)) : 0.1;
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((norm ? 1 : 0) + scale * r.nextGaussian());
        }
        return v;
    }

    /** Writes {@code config.json} and {@code model.safetensors}; tensors missing from {@code values} are random (seed 0). */
    public static Path write(Path dir, ModelConfig c, Map<String, float[]> values) {
        List<TensorSpec> specs = new ArrayList<>();
        Map<String, float[]> data = new LinkedHashMap<>();
        for (ExpectedTensor e : c.expectedTensors()) {
            float[] v = values.containsKey(e.name()) ? values.get(e.name()) : random(e, 0);
            if (v.length != e.shape().elements()) {
                throw new IllegalArgumentException(e.name() + ": " + v.length + " values for shape " + e.shape());
            }
            specs.add(new TensorSpec(e.name(), DType.F32, e.shape()));
            data.put(e.name(), v);
        }
        CheckpointWriter.write(dir, specs, Long.MAX_VALUE, Map.of(), (spec, sink) -> {
            float[] v = data.get(spec.name());
            sink.writeFloats(v, 0, v.length);
        });
        JsonFiles.write(dir.resolve("config.json"), ConfigWriter.toJson(c));
        return dir;
    }

    /** {@code n} zeros. */
    public static float[] zeros(int n) {
        return new float[n];
    }

    /** The {@code n x n} identity, row-major. */
    public static float[] identity(int n) {
        float[] v = new float[n * n];
        for (int i = 0; i < n; i++) {
            v[i * n + i] = 1;
        }
        return v;
    }

    public static float[] filled(int n, float value) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, value);
        return v;
    }

    public static float[] times(float[] v, float factor) {
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] *= factor;
        }
        return out;
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
