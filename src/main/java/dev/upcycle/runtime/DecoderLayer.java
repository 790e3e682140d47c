package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import dev.upcycle.model.ModelConfig;

/**
 * Pre-norm decoder layer. Sequential (Llama): {@code h = x + attn(norm(x))}, {@code out = h + ffn(norm(h))}.
 * Parallel (docs/attention-experts.md, "Block layouts"): {@code out = x + attn(LN x) + ffn(LN x)}, with
 * one norm or two (both on x). The attention is a MoA layer ({@link MoaAttention}) where the config
 * says so.
 */
public final class DecoderLayer {
    private final int layer;
    private final double eps;
    private final Attention attention;
    private final MoeBlock moe;
    private final MoaAttention moa;
    private final boolean parallel;

    public DecoderLayer(ModelConfig config, int layer) {
        this.layer = layer;
        this.eps = config.rmsNormEps();
        this.attention = new Attention(config, config.slidingWindow(layer));
        this.moa = config.isMoaLayer(layer) ? new MoaAttention(config, config.slidingWindow(layer)) : null;
        this.parallel = config.blockLayout() == dev.upcycle.model.MoaConfig.BlockLayout.PARALLEL;
        this.moe = config.isSparseLayer(layer)
                ? new MoeBlock(new Router(config.moe().numExpertsPerTok(), config.moe().normTopkProb()))
                : null;
    }

    /** @param x {@code [B, T, d]}; cos, sin {@code [T, hd]} */
    public NDArray forward(LayerWeights w, NDArray x, NDArray cos, NDArray sin, RoutingListener listener) {
        NDArray normed1 = RmsNorm.apply(x, w.attentionNorm(), eps);
        NDArray attn = moa != null ? moa.forward(w.moa(), normed1, cos, sin, listener, layer)
                : attention.forward(w.attention(), normed1, cos, sin);
        return around(w, x, normed1, attn, listener);
    }

    /**
     * As {@link #forward(LayerWeights, NDArray, NDArray, NDArray, RoutingListener)} for new tokens
     * after those in {@code cache}, whose slots of this layer receive their keys and values. The
     * FFN routes each token on its own, so it needs no cache.
     *
     * @param x {@code [B, T_new, d]}; cos, sin {@code [T_new, hd]} for the new positions
     */
    public NDArray forward(LayerWeights w, NDArray x, NDArray cos, NDArray sin, KvCache cache, RoutingListener listener) {
        NDArray normed1 = RmsNorm.apply(x, w.attentionNorm(), eps);
        NDArray attn = moa != null ? moa.forward(w.moa(), normed1, cos, sin, cache, layer)
                : attention.forward(w.attention(), normed1, cos, sin, cache.slot(layer, 0));
        return around(w, x, normed1, attn, listener);
    }

    /** Residuals and the FFN around the attention output {@code attn} of {@code normed1 = LN_1 x}. */
    private NDArray around(LayerWeights w, NDArray x, NDArray normed1, NDArray attn, RoutingListener listener) {
        NDArray h = parallel ? x : x.add(attn);
        NDArray normed = parallel && w.mlpNorm() == null ? normed1 : RmsNorm.apply(h, w.mlpNorm(), eps);
        if (parallel) {
            h = h.add(attn);
        }
        if (moe == null) {
            return h.add(w.mlp().forward(normed));
        }
        MoeBlock.Result r = moe.forward(w.moe(), normed);
        listener.onRouting(layer, r.routing());
        return h.add(r.output());
    }
}
