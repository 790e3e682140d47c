package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.error.Cancellation;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A forward pass one layer at a time, for models larger than memory: only the hidden states
 * ({@code T × d} floats per sequence) persist between layers; each layer's weights are read
 * into a scope closed when the layer is done, routed experts one at a time as they receive
 * tokens, embedding rows per token and the output head in row blocks.
 */
public final class LayerStream implements AutoCloseable {
    /** Output-head rows read at once by {@link #logits()}. */
    static final int HEAD_BLOCK_ROWS = 4096;

    private final WeightSource source;
    private final ModelConfig config;
    private final NDManager root;
    private final Rotary rotary;
    private final List<int[]> sequences;
    private final List<float[]> hidden = new ArrayList<>();
    private int next;

    private LayerStream(WeightSource source, List<int[]> sequences) {
        this.source = source;
        this.config = source.config();
        this.rotary = Rotary.of(config);
        this.sequences = List.copyOf(sequences);
        this.root = Djl.newManager();
        int d = config.hiddenSize();
        for (int[] seq : sequences) {
            float[] h = new float[seq.length * d];
            for (int i = 0; i < seq.length; i++) {
                if (seq[i] < 0 || seq[i] >= config.vocabSize()) {
                    throw new IllegalArgumentException("token " + seq[i] + " outside the vocabulary of " + config.vocabSize());
                }
                System.arraycopy(source.rows(TensorRole.EMBED, -1, -1, seq[i], 1), 0, h, i * d, d);
            }
            hidden.add(h);
        }
    }

    /**
     * Opens {@code dir} and embeds {@code sequences}.
     *
     * @throws dev.upcycle.error.UpcycleException as {@link WeightSource#open} and
     *                                            {@link CausalLm#requireSupported}
     */
    public static LayerStream open(Path dir, FamilyRegistry families, List<int[]> sequences) {
        WeightSource src = CausalLm.openSupported(dir, families);
        try {
            return new LayerStream(src, sequences);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /** Embeds {@code sequences} over {@code src}, which the stream then owns (and closes, also on failure). */
    static LayerStream over(WeightSource src, List<int[]> sequences) {
        try {
            return new LayerStream(src, sequences);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    public ModelConfig config() {
        return config;
    }

    public WeightSource source() {
        return source;
    }

    /** Layers run so far. */
    public int position() {
        return next;
    }

    public boolean hasNext() {
        return next < config.numHiddenLayers();
    }

    /** Runs the next layer on every sequence; returns the hidden states after it ({@code T·d} each, a copy). */
    public List<float[]> step() {
        if (!hasNext()) {
            throw new IllegalStateException("all " + config.numHiddenLayers() + " layers have run");
        }
        Cancellation.check();
        int layer = next;
        DecoderLayer module = new DecoderLayer(config, layer);
        int d = config.hiddenSize();
        try (NDManager scope = root.newSubManager()) {
            LayerWeights w = LayerWeights.load(source, scope, layer, true, null);
            for (int s = 0; s < sequences.size(); s++) {
                int t = sequences.get(s).length;
                try (NDManager step = scope.newSubManager()) {
                    NDArray x = step.create(hidden.get(s), new Shape(1, t, d));
                    NDList cs = rotary.tables(step, t);
                    hidden.set(s, module.forward(w, x, cs.get(0), cs.get(1), RoutingListener.NONE).toFloatArray());
                }
            }
        }
        next++;
        return copies();
    }

    /** The current hidden states ({@code T·d} each, a copy). */
    public List<float[]> hidden() {
        return copies();
    }

    /** After the last layer: final norm and output head, {@code T·V} logits per sequence. */
    public List<float[]> logits() {
        if (hasNext()) {
            throw new IllegalStateException("logits need all layers; " + next + " of " + config.numHiddenLayers() + " ran");
        }
        int d = config.hiddenSize();
        int v = config.vocabSize();
        TensorRole head = source.has(TensorRole.LM_HEAD, -1, -1) ? TensorRole.LM_HEAD : TensorRole.EMBED;
        List<float[]> out = new ArrayList<>();
        List<NDArray> normed = new ArrayList<>();
        try (NDManager scope = root.newSubManager()) {
            NDArray norm = source.array(scope, TensorRole.FINAL_NORM, -1, -1);
            for (int s = 0; s < sequences.size(); s++) {
                int t = sequences.get(s).length;
                normed.add(RmsNorm.apply(scope.create(hidden.get(s), new Shape(t, d)), norm, config.rmsNormEps()));
                out.add(new float[t * v]);
            }
            for (int first = 0; first < v; first += HEAD_BLOCK_ROWS) {
                int rows = Math.min(HEAD_BLOCK_ROWS, v - first);
                try (NDManager block = scope.newSubManager()) {
                    NDArray w = block.create(source.rows(head, -1, -1, first, rows), new Shape(rows, d));
                    for (int s = 0; s < sequences.size(); s++) {
                        NDArray x = normed.get(s);
                        NDArray wt = w.transpose();
                        NDArray product = x.matMul(wt); // [T, rows], in the outer scope: free it now
                        float[] part = product.toFloatArray();
                        product.close();
                        int t = sequences.get(s).length;
                        for (int i = 0; i < t; i++) {
                            System.arraycopy(part, i * rows, out.get(s), i * v + first, rows);
                        }
                    }
                }
            }
        }
        return out;
    }

    private List<float[]> copies() {
        List<float[]> c = new ArrayList<>();
        hidden.forEach(h -> c.add(h.clone()));
        return c;
    }

    @Override
    public void close() {
        try {
            root.close();
        } finally {
            source.close();
        }
    }
}
