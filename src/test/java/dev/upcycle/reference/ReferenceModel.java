package dev.upcycle.reference;

import static dev.upcycle.model.TensorRole.EMBED;
import static dev.upcycle.model.TensorRole.FINAL_NORM;
import static dev.upcycle.model.TensorRole.LM_HEAD;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A straightforward double-precision forward of a whole decoder-only checkpoint of any built-in
 * family, following Hugging Face transformers semantics ({@code *ForCausalLM.forward} without a
 * KV cache, batch 1, positions {@code 0..T-1}, no padding, eval mode). Test code only: it is the
 * yardstick the converter's outputs are measured against (docs/formats.md, docs/method.md
 * "Routing modes").
 *
 * <p>Weights are read lazily, layer by layer, when that layer is evaluated (embedding rows one
 * token at a time, {@code lm_head} in row blocks, routed experts only when some token picked
 * them), so memory stays at about one layer.
 *
 * <p>Choices where transformers leaves room:
 * <ul>
 *   <li>Everything is double; transformers computes RMSNorm, softmax, router probabilities and
 *       {@code inv_freq} in float32 and the rest in the model dtype. Weights are read as stored
 *       (F16/BF16/F32 widened exactly).</li>
 *   <li>Sliding window ({@code masking_utils.sliding_window_overlay}): query i sees keys j with
 *       {@code 0 <= i - j < sliding_window}. Mistral/Mixtral: every layer when
 *       {@code sliding_window} is non-null. Qwen families: only when {@code use_sliding_window}
 *       and {@code layer >= max_window_layers} ({@code Qwen2Config.layer_types}); the same rule
 *       is applied to Qwen2-MoE, Qwen3 and Qwen3-MoE.</li>
 *   <li>RoPE: default, {@code linear} and {@code llama3} only; other types throw.</li>
 *   <li>Top-k ties go to the lowest expert index (docs/method.md, "Routing modes"); expert outputs
 *       are summed in ascending expert order.</li>
 *   <li>{@code hidden_act} must be {@code silu}.</li>
 * </ul>
 */
public final class ReferenceModel implements AutoCloseable {

    /**
     * What one forward saw.
     *
     * @param hidden  the residual stream after each decoder layer ({@code [layers][T][d]}, before the final norm)
     * @param logits  {@code [T][V]}
     * @param experts for each sparse layer index, the experts each token was routed to ({@code [T][k]},
     *                highest weight first, ties by lowest index)
     */
    public record Trace(List<double[][]> hidden, double[][] logits, Map<Integer, int[][]> experts) {
    }

    private static final int LM_HEAD_BLOCK_ELEMENTS = 1 << 20;

    private final Checkpoint checkpoint;
    private final ModelConfig config;
    private final Weights weights;
    private final RotaryEmbedding rope;

    private ReferenceModel(Checkpoint checkpoint, ModelConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        this.weights = new Weights(checkpoint, config);
        this.rope = new RotaryEmbedding(config.rope(), config.headDim());
    }

    /** Opens {@code checkpointDir} (its {@code config.json} and safetensors). */
    public static ReferenceModel open(Path checkpointDir) {
        ModelConfig config = ModelConfig.read(checkpointDir.resolve("config.json"), FamilyRegistry.builtIn());
        Checkpoint checkpoint = Checkpoint.open(checkpointDir);
        try {
            return new ReferenceModel(checkpoint, config);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    public ModelConfig config() {
        return config;
    }

    /** The stored (or overridden) values of tensor {@code name}, in float64. */
    public double[] tensor(String name) {
        return weights.read(name);
    }

    /**
     * Computes with {@code values} in place of tensor {@code name} (null restores the stored one),
     * e.g. to take float64 finite differences with respect to a weight.
     */
    public void override(String name, double[] values) {
        weights.override(name, values);
    }

    /** {@code [T][V]} logits of {@code tokens}. */
    public double[][] logits(int[] tokens) {
        return trace(tokens).logits();
    }

    /** The full forward, keeping every layer's output and the routing decisions. */
    public Trace trace(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("no tokens");
        }
        double[][] x = embed(tokens);
        List<double[][]> hidden = new ArrayList<>();
        Map<Integer, int[][]> experts = new TreeMap<>();
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            ReferenceLayer.Output out = new ReferenceLayer(config, weights, rope, layer).forward(x);
            x = out.hidden();
            hidden.add(x);
            if (out.experts() != null) {
                experts.put(layer, out.experts());
            }
        }
        return new Trace(Collections.unmodifiableList(hidden), head(x), Collections.unmodifiableMap(experts));
    }

    /** {@code nn.Embedding}: row {@code token} of {@code embed_tokens}. */
    private double[][] embed(int[] tokens) {
        double[][] x = new double[tokens.length][];
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token " + tokens[i] + " outside vocabulary of " + config.vocabSize());
            }
            x[i] = weights.rows(EMBED, tokens[i], 1);
        }
        return x;
    }

    /**
     * Final {@code model.norm} then {@code lm_head}; with {@code tie_word_embeddings} the head is
     * {@code embed_tokens} ({@code _tie_or_clone_weights}), whether or not the file also has an
     * {@code lm_head.weight}.
     */
    private double[][] head(double[][] x) {
        int t = x.length;
        int d = config.hiddenSize();
        int vocab = config.vocabSize();
        double[] norm = weights.vector(FINAL_NORM, -1);
        double[][] normed = new double[t][];
        for (int i = 0; i < t; i++) {
            normed[i] = ReferenceLayer.rmsNorm(x[i], norm, config.rmsNormEps());
        }
        TensorRole headRole = config.tieWordEmbeddings() ? EMBED : LM_HEAD;
        double[][] logits = new double[t][vocab];
        int block = Math.max(1, LM_HEAD_BLOCK_ELEMENTS / d);
        for (int first = 0; first < vocab; first += block) {
            int count = Math.min(block, vocab - first);
            Mat rows = new Mat(count, d, weights.rows(headRole, first, count));
            for (int i = 0; i < t; i++) {
                double[] y = rows.apply(normed[i]);
                System.arraycopy(y, 0, logits[i], first, count);
            }
        }
        return logits;
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
