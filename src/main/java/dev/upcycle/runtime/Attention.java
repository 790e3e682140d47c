package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.model.ModelConfig;

/**
 * Causal grouped-query self-attention as transformers' eager path computes it: projections,
 * optional per-head q/k RMSNorm (Qwen3) before RoPE, key/value heads repeated to the query
 * heads ({@code repeat_kv}), scores scaled by {@code hd^-1/2}, an additive causal mask (with a
 * sliding window where the layer has one), softmax in FP32.
 */
public final class Attention {
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final double eps;
    private final Integer window;

    /** @param window this layer's sliding window, or null for full causal attention */
    public Attention(ModelConfig config, Integer window) {
        this.heads = config.numAttentionHeads();
        this.kvHeads = config.numKeyValueHeads();
        this.headDim = config.headDim();
        this.eps = config.rmsNormEps();
        this.window = window;
    }

    /**
     * @param x   {@code [B, T, d]}
     * @param cos {@code [T, hd]} from {@link Rotary#tables}
     * @param sin {@code [T, hd]}
     * @return {@code [B, T, d]}
     */
    public NDArray forward(AttentionWeights w, NDArray x, NDArray cos, NDArray sin) {
        // The whole sequence is the cached case with nothing cached before it.
        return attend(w, queries(w, x, cos, sin), new KvCache.Kv(keys(w, x, cos, sin), values(w, x)));
    }

    /**
     * Incremental form of {@link #forward(AttentionWeights, NDArray, NDArray, NDArray)}: the new
     * tokens' keys and values go into {@code slot}, and each new query attends to every cached
     * position up to its own.
     *
     * @param x   {@code [B, T_new, d]}
     * @param cos {@code [T_new, hd]} for the new positions ({@link Rotary#tables(NDManager, int, int)})
     */
    public NDArray forward(AttentionWeights w, NDArray x, NDArray cos, NDArray sin, KvCache.Slot slot) {
        KvCache.Kv kv = slot.append(keys(w, x, cos, sin), values(w, x));
        return attend(w, queries(w, x, cos, sin), kv);
    }

    /** Query heads after RoPE, {@code [B, h, T, hd]}. */
    NDArray queries(AttentionWeights w, NDArray x, NDArray cos, NDArray sin) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        return Rotary.apply(heads(Ops.linear(x, w.q(), w.qBias()), b, t, heads, w.qNorm()), cos, sin);
    }

    /** Key heads after RoPE, {@code [B, h_kv, T, hd]}: what a KV cache stores. */
    NDArray keys(AttentionWeights w, NDArray x, NDArray cos, NDArray sin) {
        long b = x.getShape().get(0);
        long t = x.getShape().get(1);
        return Rotary.apply(heads(Ops.linear(x, w.k(), w.kBias()), b, t, kvHeads, w.kNorm()), cos, sin);
    }

    /** Value heads, {@code [B, h_kv, T, hd]}. */
    NDArray values(AttentionWeights w, NDArray x) {
        return heads(Ops.linear(x, w.v(), w.vBias()), x.getShape().get(0), x.getShape().get(1), kvHeads, null);
    }

    /**
     * The last {@code T_new} positions' attention output {@code [B, T_new, d]}.
     *
     * @param q  {@code [B, h, T_new, hd]}
     * @param kv keys and values of all {@code T} positions, the new ones last
     */
    NDArray attend(AttentionWeights w, NDArray q, KvCache.Kv kv) {
        long b = q.getShape().get(0);
        long fresh = q.getShape().get(2);
        long total = kv.k().getShape().get(2);
        NDArray k = repeatKv(kv.k(), b, total);
        NDArray v = repeatKv(kv.v(), b, total);
        // scores [B, h, T_new, T]
        NDArray scores = q.matMul(k.swapAxes(2, 3)).mul(Ops.scalar(q, 1.0 / Math.sqrt(headDim)));
        scores = scores.add(mask(q.getManager(), (int) fresh, (int) total));
        NDArray out = scores.softmax(3).matMul(v);
        out = out.swapAxes(1, 2).reshape(b, fresh, (long) heads * headDim);
        return Ops.linear(out, w.o(), w.oBias());
    }

    /** {@code [B, T, n·hd]} → {@code [B, n, T, hd]}, with the per-head norm applied first when given. */
    private NDArray heads(NDArray y, long b, long t, int n, NDArray norm) {
        NDArray h = y.reshape(b, t, n, headDim);
        if (norm != null) {
            h = RmsNorm.apply(h, norm, eps);
        }
        return h.swapAxes(1, 2);
    }

    /** transformers {@code repeat_kv}: query head j reads key/value head {@code j / (h / kv)}. */
    private NDArray repeatKv(NDArray kv, long b, long t) {
        int rep = heads / kvHeads;
        if (rep == 1) {
            return kv;
        }
        return kv.expandDims(2).repeat(2, rep).reshape(b, heads, t, headDim);
    }

    /**
     * Additive mask {@code [rows, cols]} for queries at the last {@code rows} of {@code cols} key
     * positions: 0 where query i may see key j (j ≤ i, and i − j < window), −∞ elsewhere.
     */
    NDArray mask(NDManager manager, int rows, int cols) {
        int past = cols - rows;
        float[] m = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            int i = past + r;
            for (int j = 0; j < cols; j++) {
                boolean visible = j <= i && (window == null || i - j < window);
                m[r * cols + j] = visible ? 0f : Float.NEGATIVE_INFINITY;
            }
        }
        return manager.create(m, new Shape(rows, cols));
    }
}
