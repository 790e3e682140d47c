package dev.upcycle.runtime;

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
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Tiny checkpoints for runtime, verify and eval tests: random dense and MoE models of every
 * family, and MoE models made from a dense one by copying each MLP into every expert (the
 * function-preserving construction of docs/formats.md, "Choosing a target"), optionally with one expert
 * perturbed.
 */
public final class TestModels {
    public static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();
    private static final long SEED = 7;

    private TestModels() {
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
        Synthesizer.write(config, dtype, SEED, 5L << 30, dir);
        manifest(dir);
        return dir;
    }

    /** A random checkpoint of {@code family} after {@code tweak}. */
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
     * expert. When {@code perturbLayer >= 0}, expert 0 of that layer gets noise added to its
     * down projection.
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
}
