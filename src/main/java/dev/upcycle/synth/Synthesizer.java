package dev.upcycle.synth;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.JsonFiles;
import dev.upcycle.io.TensorSink;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.math.SeededGaussian;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ConfigWriter;
import dev.upcycle.model.TensorRole;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a deterministic random checkpoint for a config: every tensor the family expects, each
 * drawn from its own stream keyed by (seed, tensor name), so the same seed gives the same bytes
 * whatever the shard layout. Values are chosen so that a forward pass is well-conditioned:
 * linear weights ~ N(0, 1/fan_in), embeddings ~ N(0, 1), norm weights ~ 1 + N(0, 0.1²),
 * biases ~ N(0, 0.1²). Generation streams in chunks, so memory does not grow with the model.
 */
public final class Synthesizer {
    private static final int CHUNK = 1 << 16;

    private Synthesizer() {
    }

    /** Writes {@code config.json} and the weights into {@code dir} (an existing, empty staging directory). */
    public static void write(ModelConfig config, DType dtype, long seed, long maxShardSize, Path dir) {
        if (!dtype.isWritable()) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--dtype", dtype + " cannot be written; use f32, bf16 or f16");
        }
        ModelConfig withDtype = config.toBuilder().dtype(dtype).build();
        List<ExpectedTensor> expected = withDtype.expectedTensors();
        Map<String, ExpectedTensor> byName = new HashMap<>();
        List<TensorSpec> specs = expected.stream().map(t -> {
            byName.put(t.name(), t);
            return new TensorSpec(t.name(), dtype, t.shape());
        }).toList();
        CheckpointWriter.write(dir, specs, maxShardSize, Map.of(), (spec, sink) -> fill(byName.get(spec.name()), seed, sink));
        JsonFiles.write(dir.resolve("config.json"), ConfigWriter.toJson(withDtype));
    }

    /**
     * The dense llama-shaped config {@code c} as a native ({@code upcycle_moa}) config with parallel
     * blocks and {@code norms} norms per block, with no routed and no attention experts: a BAM-style
     * seed (docs/attention-experts.md, "Block layouts"), which no Llama-family format can express.
     */
    public static ModelConfig parallelBlocks(ModelConfig c, int norms) {
        List<Integer> all = java.util.stream.IntStream.range(0, c.numHiddenLayers()).boxed().toList();
        return ModelConfig.builder(FamilyRegistry.builtIn().byName(FamilyRegistry.NATIVE_MOA))
                .vocabSize(c.vocabSize()).hiddenSize(c.hiddenSize()).intermediateSize(c.intermediateSize())
                .numHiddenLayers(c.numHiddenLayers()).numAttentionHeads(c.numAttentionHeads())
                .numKeyValueHeads(c.numKeyValueHeads()).headDim(c.headDim()).tieWordEmbeddings(c.tieWordEmbeddings())
                .attentionBias(c.attentionBias()).maxPositionEmbeddings(c.maxPositionEmbeddings())
                .numExperts(1).numExpertsPerTok(1).expertWidth(c.intermediateSize()).mlpOnlyLayers(all)
                .moa(new MoaConfig(MoaConfig.Variant.SEPARATE, 1, null, List.of(), MoaConfig.BlockLayout.PARALLEL,
                        norms, 0.0))
                .build();
    }

    private static void fill(ExpectedTensor t, long seed, TensorSink sink) throws IOException {
        SeededGaussian g = SeededGaussian.forName(seed, t.name());
        Distribution dist = Distribution.of(t);
        long n = t.shape().elements();
        float[] buf = new float[(int) Math.min(CHUNK, Math.max(n, 1))];
        for (long done = 0; done < n; ) {
            int len = (int) Math.min(buf.length, n - done);
            for (int i = 0; i < len; i++) {
                buf[i] = (float) g.next(dist.mean, dist.std);
            }
            sink.writeFloats(buf, 0, len);
            done += len;
        }
    }

    /** Mean and standard deviation for a tensor, by role. */
    private record Distribution(double mean, double std) {
        static Distribution of(ExpectedTensor t) {
            TensorRole r = t.role();
            return switch (r) {
                case ATTN_NORM, MLP_NORM, FINAL_NORM, ATTN_Q_NORM, ATTN_K_NORM, ATTN_EXPERT_Q_NORM, ATTN_EXPERT_K_NORM ->
                        new Distribution(1.0, 0.1);
                case EMBED -> new Distribution(0.0, 1.0);
                default -> r.isBias()
                        ? new Distribution(0.0, 0.1)
                        : new Distribution(0.0, 1.0 / Math.sqrt(t.shape().rank() > 1 ? t.shape().dim(1) : 1));
            };
        }
    }
}
