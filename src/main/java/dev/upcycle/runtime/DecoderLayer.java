package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import dev.upcycle.model.ModelConfig;

/** Pre-norm decoder layer: {@code h = x + attn(norm(x))}, {@code out = h + ffn(norm(h))}. */
public final class DecoderLayer {
    private final int layer;
    private final double eps;
    private final Attention attention;
    private final MoeBlock moe;

    public DecoderLayer(ModelConfig config, int layer) {
        this.layer = layer;
        this.eps = config.rmsNormEps();
        this.attention = new Attention(config, Attention.window(config, layer));
        this.moe = config.isSparseLayer(layer)
                ? new MoeBlock(new Router(config.moe().numExpertsPerTok(), config.moe().normTopkProb()))
                : null;
    }

    /** @param x {@code [B, T, d]}; cos, sin {@code [T, hd]} */
    public NDArray forward(LayerWeights w, NDArray x, NDArray cos, NDArray sin, RoutingListener listener) {
        NDArray h = x.add(attention.forward(w.attention(), RmsNorm.apply(x, w.attentionNorm(), eps), cos, sin));
        NDArray normed = RmsNorm.apply(h, w.mlpNorm(), eps);
        if (moe == null) {
            return h.add(w.mlp().forward(normed));
        }
        MoeBlock.Result r = moe.forward(w.moe(), normed);
        listener.onRouting(layer, r.routing());
        return h.add(r.output());
    }
}
