package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole causal language model held in memory (FP32; for inference optionally with 16-bit
 * matrices), for sample and train. Forward passes
 * create their temporaries in the manager of the token array they are given: run each inside a
 * sub-manager in try-with-resources.
 */
public final class CausalLm implements AutoCloseable {
    private final NDManager manager;
    private final ModelConfig config;
    private final NDArray embed;
    private final NDArray finalNorm;
    private final NDArray lmHead;
    private final List<LayerWeights> weights;
    private final List<DecoderLayer> layers;
    private final Rotary rotary;
    private final Map<String, NDArray> parameters;

    private CausalLm(NDManager manager, ModelConfig config, NDArray embed, NDArray finalNorm,
                     NDArray lmHead, List<LayerWeights> weights, Map<String, NDArray> parameters) {
        this.manager = manager;
        this.config = config;
        this.embed = embed;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.weights = List.copyOf(weights);
        this.rotary = Rotary.of(config);
        List<DecoderLayer> l = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            l.add(new DecoderLayer(config, i));
        }
        this.layers = List.copyOf(l);
        this.parameters = Collections.unmodifiableMap(parameters);
    }

    /** Loads {@code dir} on the CPU into a manager this model owns. */
    public static CausalLm load(Path dir) {
        return load(dir, null);
    }

    /**
     * Loads {@code dir}; parameters go to a sub-manager of {@code parent} (a new CPU manager
     * when null), closed with the model.
     *
     * @throws UpcycleException any reader, config or description error; UnsupportedArchitecture
     *                          for what the runtime cannot compute
     */
    public static CausalLm load(Path dir, NDManager parent) {
        return load(dir, parent, false);
    }

    /**
     * Loads {@code dir} for inference; with {@code compact}, matrices stored in 16 bits are held
     * in FP16 (half the memory) and widened to FP32 where used, so results equal the FP32 load's
     * for FP16 and FP32 checkpoints (and for BF16 up to FP16's rounding of values below 2^-14).
     * Such a model cannot be trained.
     */
    public static CausalLm load(Path dir, NDManager parent, boolean compact) {
        try (WeightSource src = WeightSource.open(dir, FamilyRegistry.builtIn())) {
            ModelConfig c = src.config();
            requireSupported(c, dir.toString());
            NDManager m = parent == null ? Djl.newManager() : parent.newSubManager();
            try {
                Map<String, NDArray> named = new LinkedHashMap<>();
                LayerWeights.Reader r = new LayerWeights.Reader(src, m, named, compact);
                NDArray embed = r.at(TensorRole.EMBED, -1, -1);
                List<LayerWeights> layers = new ArrayList<>();
                for (int i = 0; i < c.numHiddenLayers(); i++) {
                    Cancellation.check();
                    layers.add(LayerWeights.load(r, i, false));
                }
                NDArray norm = r.at(TensorRole.FINAL_NORM, -1, -1);
                NDArray head = src.has(TensorRole.LM_HEAD, -1, -1) ? r.at(TensorRole.LM_HEAD, -1, -1) : embed;
                return new CausalLm(m, c, embed, norm, head, layers, named);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
        }
    }

    /**
     * The config of {@code dir}, checked as {@link #load} checks it (tensor headers against the
     * config, a forward the runtime implements) without reading a weight: what eval, train and
     * sample check their tokenizer and data against before loading the model.
     */
    public static ModelConfig configOf(Path dir) {
        try (WeightSource src = openSupported(dir, FamilyRegistry.builtIn())) {
            return src.config();
        }
    }

    /**
     * Opens {@code dir}'s weights for a forward the runtime implements (checked before any weight
     * is read); the source is closed again when the check fails.
     */
    static WeightSource openSupported(Path dir, FamilyRegistry families) {
        WeightSource src = WeightSource.open(dir, families);
        try {
            requireSupported(src.config(), dir.toString());
            return src;
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /** Refuses configs whose forward the runtime does not implement, before any weight is read. */
    static void requireSupported(ModelConfig c, String where) {
        if (!"silu".equals(c.hiddenAct())) {
            throw new UpcycleException(ErrorKind.UnsupportedArchitecture, where,
                    "hidden_act " + c.hiddenAct() + " is not supported by the runtime (silu is)");
        }
        Rotary.of(c);
    }

    public ModelConfig config() {
        return config;
    }

    /** The manager holding the parameters. */
    public NDManager manager() {
        return manager;
    }

    /** Every parameter under its checkpoint tensor name, in state-dict order (tied heads appear once, as the embedding). */
    public Map<String, NDArray> parameters() {
        return parameters;
    }

    /** Logits {@code [B, T, V]} for token ids {@code [B, T]} (int32 or int64), in the tokens' manager. */
    public NDArray forward(NDArray tokens) {
        return forward(tokens, RoutingListener.NONE);
    }

    /** As {@link #forward(NDArray)}, telling {@code listener} each sparse layer's routing. */
    public NDArray forward(NDArray tokens, RoutingListener listener) {
        NDArray x = embedded(tokens);
        NDList cs = rotary.tables(tokens.getManager(), (int) tokens.getShape().get(1));
        for (int i = 0; i < layers.size(); i++) {
            x = layers.get(i).forward(weights.get(i), x, cs.get(0), cs.get(1), listener);
        }
        return head(x);
    }

    /** Embeddings {@code [B, T, d]} of token ids {@code [B, T]}, in the tokens' manager. */
    private NDArray embedded(NDArray tokens) {
        long b = tokens.getShape().get(0);
        long t = tokens.getShape().get(1);
        NDArray rows = Ops.rows(embed, tokens.reshape(-1));
        return rows.toType(DataType.FLOAT32, false).reshape(b, t, config.hiddenSize());
    }

    /** Logits of the last hidden states: final norm, then the lm_head. */
    private NDArray head(NDArray x) {
        return Ops.linear(RmsNorm.apply(x, finalNorm, config.rmsNormEps()), lmHead, null);
    }

    /** An empty KV cache for this model, its arrays under the model's manager: close it before the model. */
    public KvCache newCache() {
        return new KvCache(config, manager);
    }

    /**
     * Incremental forward: logits {@code [B, T_new, V]} of tokens {@code [B, T_new]} at positions
     * {@code cache.length()} onward, whose keys and values are appended to {@code cache}. Equals
     * the last {@code T_new} rows of {@link #forward(NDArray)} over the whole sequence (invariant
     * T14 of docs/design.md). Temporaries go to the tokens' manager: give each step a scope that closes
     * before the cache does.
     */
    public NDArray forward(NDArray tokens, KvCache cache) {
        if (cache.layers() != layers.size()) {
            throw new IllegalArgumentException("a cache of " + cache.layers() + " layers for a model of " + layers.size());
        }
        int t = (int) tokens.getShape().get(1);
        NDArray x = embedded(tokens);
        NDList cs = rotary.tables(tokens.getManager(), cache.length(), t);
        for (int i = 0; i < layers.size(); i++) {
            x = layers.get(i).forward(weights.get(i), x, cs.get(0), cs.get(1), cache, RoutingListener.NONE);
        }
        cache.advance(t);
        return head(x);
    }

    /**
     * Greedy decoding with a KV cache: the prompt in one step, then each chosen token on its own.
     *
     * @return the {@code newTokens} ids that follow {@code prompt}
     */
    public int[] generate(int[] prompt, int newTokens) {
        return generate(prompt, newTokens, java.util.Set.of());
    }

    /**
     * As {@link #generate(int[], int)}, stopping after the first generated token in {@code stop}
     * (an end-of-sequence id), which is included in the result.
     */
    public int[] generate(int[] prompt, int newTokens, java.util.Set<Integer> stop) {
        if (prompt.length == 0 || newTokens < 0) {
            throw new IllegalArgumentException("greedy decoding needs a prompt token and newTokens >= 0, got "
                    + prompt.length + " and " + newTokens);
        }
        int[] out = new int[newTokens];
        try (KvCache cache = newCache()) {
            int[] next = prompt;
            for (int i = 0; i < newTokens; i++) {
                Cancellation.check();
                try (NDManager step = manager.newSubManager()) {
                    NDArray logits = forward(step.create(next, new Shape(1, next.length)), cache);
                    out[i] = (int) logits.get(0, next.length - 1).argMax().getLong();
                }
                if (stop.contains(out[i])) {
                    return java.util.Arrays.copyOf(out, i + 1);
                }
                next = new int[] {out[i]};
            }
        }
        return out;
    }

    /** Logits {@code [T][V]} of one sequence, computed in a scope of their own. */
    public float[][] logits(int[] tokens) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray ids = scope.create(tokens, new Shape(1, tokens.length));
            float[] flat = forward(ids).toFloatArray();
            int v = config.vocabSize();
            float[][] out = new float[tokens.length][];
            for (int i = 0; i < tokens.length; i++) {
                out[i] = java.util.Arrays.copyOfRange(flat, i * v, (i + 1) * v);
            }
            return out;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
