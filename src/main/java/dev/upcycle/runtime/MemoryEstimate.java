package dev.upcycle.runtime;

import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.ModelConfig;
import java.util.Locale;

/**
 * What {@code sample} or {@code train} will need, in bytes, computed from the config alone before
 * anything is loaded. Native memory (libtorch's allocations) is split into its parts; the heap
 * holds only what Java itself touches. The figures are upper estimates of the dominant terms, not
 * a measurement: activations count the largest tensors a step creates, and {@link #RUNTIME} covers
 * the JVM, libtorch's code and allocator slack.
 *
 * @param weights     the parameters as held (FP32, or FP16 matrices for a 16-bit model in sample)
 * @param optimizer   train only: gradients and AdamW's two moments, FP32 each
 * @param kvCache     sample only: keys and values of every position, plus one layer's copy while appending
 * @param activations the largest step's temporaries (sample: the prompt step; train: what autograd keeps)
 * @param heap        Java heap beyond the JVM's own needs
 */
public record MemoryEstimate(long weights, long optimizer, long kvCache, long activations, long heap) {

    /** The JVM and libtorch's libraries and allocator slack, measured at about 400 MB for a tiny model. */
    public static final long RUNTIME = 512L << 20;
    /** Bytes of an FP32 value. */
    private static final long F32 = 4;
    /**
     * Peak resident memory of a training step over the activations autograd saves: the backward
     * pass also holds each layer's gradients and its operators' temporaries. Measured (peak RSS at
     * batch 2 and 8 x 512, hidden 512, 8 layers, the slope over the batch) at 1.45 for a dense model
     * and 1.72 for an 8-expert top-2 MoE with jemalloc, 1.45 for the MoE with glibc's 1 MiB threshold.
     */
    static final double BACKWARD_PEAK = 1.75;

    /** Native memory in all. */
    public long nativeBytes() {
        return sat((double) weights + optimizer + kvCache + activations + RUNTIME);
    }

    /**
     * {@code sample}: the whole model, its KV cache for {@code contextTokens} positions, and the
     * prompt step's temporaries.
     *
     * @param sixteenBit   matrices are stored in 16 bits and held so (widened one at a time where used)
     * @param promptTokens tokens of the first (largest) step
     */
    public static MemoryEstimate sample(ModelConfig c, boolean sixteenBit, long promptTokens, long contextTokens) {
        long weights = 0;
        long widest = 0;
        for (ExpectedTensor t : c.expectedTensors()) {
            long n = t.shape().elements();
            boolean matrix = t.shape().dims().length == 2;
            weights += n * (sixteenBit && matrix ? 2 : F32);
            if (matrix) {
                widest = Math.max(widest, n);
            }
        }
        long perToken = 0;
        long layerMax = 0;
        for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
            long f = KvCache.floatsPerToken(c, layer);
            perToken += f;
            layerMax = Math.max(layerMax, f);
        }
        double cache = (double) F32 * contextTokens * (perToken + layerMax);
        long widened = sixteenBit ? F32 * widest : 0;
        double step = (double) F32 * promptTokens * (2.0 * c.vocabSize() + 3.0 * widestMlp(c) + 8.0 * c.hiddenSize()
                + 4.0 * c.numAttentionHeads() * c.headDim() + 2.0 * c.numAttentionHeads() * contextTokens);
        return new MemoryEstimate(weights, 0, sat(cache), sat(widened + step), 0);
    }

    /**
     * {@code train} of one micro-batch of {@code batch × seqLen} tokens (accumulation runs the
     * micro-batches one after another, so it adds nothing): FP32 parameters, their gradients and
     * AdamW's two moments (16 bytes a parameter), and what autograd keeps for the backward pass
     * times {@link #BACKWARD_PEAK}.
     * The heap holds one tensor at a time as floats and as encoded bytes while a checkpoint is written.
     */
    public static MemoryEstimate train(ModelConfig c, long batch, long seqLen) {
        long params = 0;
        long largest = 0;
        for (ExpectedTensor t : c.expectedTensors()) {
            params += t.shape().elements();
            largest = Math.max(largest, t.shape().elements());
        }
        long d = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long perLayer = 0;
        for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
            // norms, residuals and projections' outputs; q, k, v before and after RoPE and the GQA repeat;
            // scores and their softmax for every position of the sequence
            long attention = 10 * d + 4 * q + 6 * kv + 2L * c.numAttentionHeads() * Math.min(seqLen, 1L << 40);
            perLayer += attention + ffnSaved(c, layer);
        }
        double tokens = (double) batch * seqLen;
        // logits, log-softmax, their gradient; then the backward pass's own gradients and temporaries
        double activations = BACKWARD_PEAK * F32 * tokens * (perLayer + 3.0 * c.vocabSize());
        return new MemoryEstimate(F32 * params, 3 * F32 * params, 0, sat(activations), 2 * F32 * largest);
    }

    /** Floats autograd keeps per token for the feed-forward of {@code layer}: gate, up, silu, product, input. */
    private static long ffnSaved(ModelConfig c, int layer) {
        if (!c.isSparseLayer(layer)) {
            return 5L * c.intermediateSize();
        }
        long k = c.moe().numExpertsPerTok();
        long shared = c.moe().sharedExpertWidth() == null ? 0 : 5L * c.moe().sharedExpertWidth();
        return k * (c.hiddenSize() + 5L * c.moe().expertWidth()) + 3L * c.moe().numExperts() + shared;
    }

    /** Widest feed-forward a token passes through in one layer (all its routed experts together). */
    private static long widestMlp(ModelConfig c) {
        long w = c.intermediateSize();
        if (c.moe() != null) {
            long shared = c.moe().sharedExpertWidth() == null ? 0 : c.moe().sharedExpertWidth();
            w = Math.max(w, (long) c.moe().numExpertsPerTok() * c.moe().expertWidth() + shared);
        }
        return w;
    }

    /** {@code x} as a long, saturating at {@link Long#MAX_VALUE} (sizes a user gives can be absurd). */
    private static long sat(double x) {
        return x >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) x;
    }

    /** {@code "9.8 GB (weights 4.9 GB, ...)"}: the total and its non-zero parts. */
    public String describe() {
        StringBuilder parts = new StringBuilder("weights " + gb(weights));
        if (optimizer > 0) {
            parts.append(", gradients and optimizer ").append(gb(optimizer));
        }
        if (kvCache > 0) {
            parts.append(", KV cache ").append(gb(kvCache));
        }
        parts.append(", activations ").append(gb(activations)).append(", runtime ").append(gb(RUNTIME));
        return gb(nativeBytes()) + " (" + parts + ")";
    }

    /** Decimal gigabytes with one decimal (two below 1 GB). */
    public static String gb(long bytes) {
        double g = bytes / 1e9;
        return String.format(Locale.ROOT, g < 1 ? "%.2f GB" : "%.1f GB", g);
    }
}
