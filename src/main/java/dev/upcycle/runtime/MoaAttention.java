package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;

/**
 * The MoA layer (docs/attention-experts.md, "The soft mixture of attention"):
 * {@code g = softmax(W_attn h)} in FP32 (optionally top-k, renormalised),
 * {@code MoA(h)_t = Σ_e g_e(h_t) A_e(h)_t}, each {@code A_e} a full causal GQA attention
 * ({@link Attention}) with the expert's projections; shared_kv experts share one k and v.
 */
public final class MoaAttention {
    private final Attention attention;
    private final MoaConfig moa;

    public MoaAttention(ModelConfig config, Integer window) {
        this.attention = new Attention(config, window);
        this.moa = config.moa();
    }

    /** Gate weights {@code [B, T, E_a]}: softmax over all experts, or the renormalised top-k of it. */
    public NDArray gates(NDArray router, NDArray h) {
        return gates(Ops.linear(h, router, null));
    }

    /** Gate weights from the attention router's logits {@code [B, T, E_a]}. */
    private NDArray gates(NDArray logits) {
        NDArray g = logits.softmax(-1);
        if (moa.soft()) {
            return g;
        }
        int e = moa.numAttentionExperts();
        NDArray kth = g.sort(-1).get("..., " + (e - moa.activeExperts())).expandDims(-1);
        NDArray kept = g.mul(g.gte(kth).toType(g.getDataType(), false));
        return kept.div(kept.sum(new int[] {-1}, true));
    }

    /** @param h normalised hidden states {@code [B, T, d]} */
    public NDArray forward(MoaWeights w, NDArray h, NDArray cos, NDArray sin) {
        return forward(w, h, cos, sin, RoutingListener.NONE, -1);
    }

    /** As {@link #forward(MoaWeights, NDArray, NDArray, NDArray)}, telling {@code listener} the router logits. */
    public NDArray forward(MoaWeights w, NDArray h, NDArray cos, NDArray sin, RoutingListener listener, int layer) {
        NDArray logits = Ops.linear(h, w.router(), null);
        listener.onAttentionRouting(layer, logits);
        NDArray g = gates(logits);
        NDArray out = null;
        for (int e = 0; e < w.experts().size(); e++) {
            NDArray y = attention.forward(w.experts().get(e), h, cos, sin).mul(g.get("..., " + e).expandDims(-1));
            out = out == null ? y : out.add(y);
        }
        return out;
    }

    /**
     * Incremental form of {@link #forward(MoaWeights, NDArray, NDArray, NDArray)} for new tokens
     * after those in {@code cache}: separate experts append to slot {@code e} of the layer, shared_kv
     * experts share slot 0 (docs/attention-experts.md, "KV cache"), whose keys and values are computed
     * once.
     */
    public NDArray forward(MoaWeights w, NDArray h, NDArray cos, NDArray sin, KvCache cache, int layer) {
        NDArray g = gates(w.router(), h);
        KvCache.Kv shared = moa.variant() == MoaConfig.Variant.SHARED_KV ? append(cache.slot(layer, 0),
                w.experts().get(0), h, cos, sin) : null;
        NDArray out = null;
        for (int e = 0; e < w.experts().size(); e++) {
            AttentionWeights a = w.experts().get(e);
            KvCache.Kv kv = shared != null ? shared : append(cache.slot(layer, e), a, h, cos, sin);
            NDArray y = attention.attend(a, attention.queries(a, h, cos, sin), kv).mul(g.get("..., " + e).expandDims(-1));
            out = out == null ? y : out.add(y);
        }
        return out;
    }

    private KvCache.Kv append(KvCache.Slot slot, AttentionWeights a, NDArray h, NDArray cos, NDArray sin) {
        return slot.append(attention.keys(a, h, cos, sin), attention.values(a, h));
    }
}
