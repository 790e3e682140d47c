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
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link Evaluator}'s loss without holding the model: the windows of a pass go through one
 * layer at a time, each layer's weights read, used on every micro-batch of windows and freed, so
 * only the hidden states of the pass ({@code tokens × d} floats) persist between layers. The
 * final norm, output head and loss then run in blocks ({@link ChunkedLoss}), so
 * {@code tokens × vocab} logits never exist whole. Memory is bounded by the largest layer plus
 * {@link Limits}, not by the model or the data.
 */
public final class StreamedEval implements AutoCloseable {
    private final WeightSource source;
    private final ModelConfig config;
    private final Rotary rotary;
    private final Limits limits;
    private final NDManager root;

    /**
     * How the work is cut.
     *
     * @param batchTokens tokens per micro-batch (the rows of each matmul); more gains little and
     *                    grows the MLP activations
     * @param scoreBytes  attention scores of one micro-batch ({@code B·h·T²} floats) aimed at
     * @param passBytes   hidden states held between layers by one pass; each pass reads the model once
     * @param vocabBlock  output-head rows per block of the loss
     */
    public record Limits(int batchTokens, long scoreBytes, long passBytes, int vocabBlock) {
        public static final Limits DEFAULT = new Limits(2048, 64L << 20, 256L << 20, 8192);

        public Limits {
            if (batchTokens < 1 || scoreBytes < 1 || passBytes < 1 || vocabBlock < 1) {
                throw new IllegalArgumentException("limits must be positive: " + batchTokens + ", " + scoreBytes
                        + ", " + passBytes + ", " + vocabBlock);
            }
        }
    }

    /** {@code windows} consecutive windows of {@code len} inputs, the first starting at token {@code start}. */
    record Batch(int start, int windows, int len) {
        int tokens() {
            return windows * len;
        }
    }

    private StreamedEval(WeightSource source, Limits limits) {
        this.source = source;
        this.config = source.config();
        this.rotary = Rotary.of(config);
        this.limits = limits;
        this.root = Djl.newManager();
    }

    /**
     * Opens {@code dir}: its config and tensor headers only; no weight is read yet.
     *
     * @throws dev.upcycle.error.UpcycleException as {@link WeightSource#open} and
     *                                            {@link CausalLm#requireSupported}
     */
    public static StreamedEval open(Path dir, FamilyRegistry families) {
        return open(dir, families, Limits.DEFAULT);
    }

    static StreamedEval open(Path dir, FamilyRegistry families, Limits limits) {
        WeightSource src = CausalLm.openSupported(dir, families);
        try {
            return new StreamedEval(src, limits);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    /**
     * Bytes of attention scores for one window of {@code seqLen} tokens (scores, their masked sum
     * and their softmax, {@code h·T²} floats each): what a window needs however it is batched.
     */
    public static long attentionBytes(ModelConfig c, int seqLen) {
        double bytes = 3.0 * 4.0 * c.numAttentionHeads() * seqLen * seqLen;
        return bytes >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) bytes;
    }

    public ModelConfig config() {
        return config;
    }

    /**
     * Mean next-token loss of {@code tokens} in windows of {@code seqLen} inputs, as
     * {@link Evaluator#evaluate} computes it.
     */
    public Evaluator.Result evaluate(int[] tokens, int seqLen) {
        if (tokens.length < 2 || seqLen < 1) {
            throw new IllegalArgumentException("need at least 2 tokens and seqLen >= 1, got " + tokens.length
                    + " and " + seqLen);
        }
        int vocab = config.vocabSize();
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token " + tokens[i] + " at position " + i
                        + " is outside the model's vocabulary of " + vocab);
            }
        }
        int predicted = tokens.length - 1;
        double nll = 0;
        for (List<Batch> pass : plan(predicted, seqLen, config.numAttentionHeads(), config.hiddenSize(), limits)) {
            nll += passNll(tokens, pass);
        }
        int windows = predicted / seqLen + (predicted % seqLen > 0 ? 1 : 0);
        return new Evaluator.Result(predicted, nll / predicted, windows, seqLen);
    }

    /**
     * The windows of {@code predicted} tokens cut into micro-batches (full windows first, then
     * the partial last one alone) and the micro-batches into passes.
     */
    static List<List<Batch>> plan(int predicted, int seqLen, int heads, int hidden, Limits limits) {
        int full = predicted / seqLen;
        int rest = predicted % seqLen;
        long scoresPerWindow = 4L * heads * seqLen * seqLen;
        int perBatch = (int) Math.max(1, Math.min(limits.batchTokens() / seqLen, limits.scoreBytes() / scoresPerWindow));
        List<Batch> batches = new ArrayList<>();
        for (int w = 0; w < full; w += perBatch) {
            batches.add(new Batch(w * seqLen, Math.min(perBatch, full - w), seqLen));
        }
        if (rest > 0) {
            batches.add(new Batch(full * seqLen, 1, rest));
        }
        List<List<Batch>> passes = new ArrayList<>();
        List<Batch> pass = new ArrayList<>();
        long bytes = 0;
        for (Batch b : batches) {
            long more = 4L * b.tokens() * hidden;
            if (!pass.isEmpty() && bytes + more > limits.passBytes()) {
                passes.add(pass);
                pass = new ArrayList<>();
                bytes = 0;
            }
            pass.add(b);
            bytes += more;
        }
        passes.add(pass);
        return passes;
    }

    /** Summed NLL of one pass's micro-batches: every layer over all of them, then the chunked loss. */
    private double passNll(int[] tokens, List<Batch> pass) {
        int d = config.hiddenSize();
        try (NDManager scope = root.newSubManager()) {
            List<NDArray> hidden = new ArrayList<>();
            List<int[]> targets = new ArrayList<>();
            Map<Integer, NDList> tables = new HashMap<>();
            for (Batch b : pass) {
                hidden.add(embed(scope, tokens, b));
                int[] t = new int[b.tokens()];
                System.arraycopy(tokens, b.start() + 1, t, 0, t.length);
                targets.add(t);
                tables.computeIfAbsent(b.len(), len -> rotary.tables(scope, len));
            }
            for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
                DecoderLayer module = new DecoderLayer(config, layer);
                try (NDManager layerScope = scope.newSubManager()) {
                    LayerWeights w = LayerWeights.load(source, layerScope, layer, streamExperts(layer, pass.size()), null);
                    for (int i = 0; i < pass.size(); i++) {
                        Cancellation.check(); // a signal stops eval between micro-batches
                        try (NDManager step = layerScope.newSubManager()) {
                            NDArray x = hidden.get(i);
                            x.attach(step); // the input and every temporary go with the step
                            NDList cs = tables.get(pass.get(i).len());
                            NDArray y = module.forward(w, x, cs.get(0), cs.get(1), RoutingListener.NONE);
                            y.attach(scope);
                            hidden.set(i, y);
                        }
                    }
                }
            }
            return ChunkedLoss.nll(source, scope, hidden, targets, limits.vocabBlock());
        }
    }

    /**
     * Whether a sparse layer's routed experts are read one at a time as they receive tokens
     * (each is then read once per micro-batch) rather than all before the first micro-batch:
     * always with one micro-batch, where that costs nothing, and when the layer's experts in
     * FP32 exceed {@link #RESIDENT_EXPERT_BYTES}.
     */
    private boolean streamExperts(int layer, int microBatches) {
        if (!config.isSparseLayer(layer)) {
            return false;
        }
        double bytes = 4.0 * 3 * config.hiddenSize() * config.moe().expertWidth() * config.moe().numExperts();
        return microBatches == 1 || bytes > RESIDENT_EXPERT_BYTES;
    }

    /** Routed experts of one layer kept for all micro-batches of a pass only up to this size. */
    static final long RESIDENT_EXPERT_BYTES = 1L << 30;

    /** Embedding rows of a micro-batch's inputs, {@code [B, T, d]}: one row read per token. */
    private NDArray embed(NDManager scope, int[] tokens, Batch b) {
        int d = config.hiddenSize();
        float[] h = new float[b.tokens() * d];
        for (int i = 0; i < b.tokens(); i++) {
            System.arraycopy(source.rows(TensorRole.EMBED, -1, -1, tokens[b.start() + i], 1), 0, h, i * d, d);
        }
        return scope.create(h, new Shape(b.windows(), b.len(), d));
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
