package dev.upcycle.reference;

import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.JsonFiles;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.model.ConfigWriter;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Tiny hand-built checkpoints (F32 tensors + {@code config.json}) for the reference tests. */
final class TestCheckpoints {

    static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();

    private TestCheckpoints() {
    }

    /** A builder for {@code family} with the given sizes, one layer, eps 1e-6 and explicit head_dim. */
    static ModelConfig.Builder config(String family, int vocab, int hidden, int intermediate, int heads, int kvHeads,
                                      int headDim) {
        return ModelConfig.builder(FAMILIES.byName(family)).vocabSize(vocab).hiddenSize(hidden)
                .intermediateSize(intermediate).numHiddenLayers(1).numAttentionHeads(heads)
                .numKeyValueHeads(kvHeads).headDim(headDim).rmsNormEps(1e-6);
    }

    /**
     * Random values for every tensor {@code c} promises, deterministic in {@code seed} and the
     * name: norm weights {@code 1 + 0.1 g}, biases {@code 0.1 g}, matrices {@code g / sqrt(in)}.
     */
    static Map<String, float[]> random(ModelConfig c, long seed) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (ExpectedTensor e : c.expectedTensors()) {
            out.put(e.name(), random(e, seed));
        }
        return out;
    }

    static float[] random(ExpectedTensor e, long seed) {
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
    static Path write(Path dir, ModelConfig c, Map<String, float[]> values) {
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
    static float[] zeros(int n) {
        return new float[n];
    }

    /** The {@code n x n} identity, row-major. */
    static float[] identity(int n) {
        float[] v = new float[n * n];
        for (int i = 0; i < n; i++) {
            v[i * n + i] = 1;
        }
        return v;
    }

    static float[] filled(int n, float value) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, value);
        return v;
    }

    static float[] times(float[] v, float factor) {
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] *= factor;
        }
        return out;
    }
}
