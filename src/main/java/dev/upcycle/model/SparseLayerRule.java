package dev.upcycle.model;

/** Which decoder layers of a family carry routed experts. */
public enum SparseLayerRule {
    /** Dense families: no layer is sparse. */
    NONE("none"),
    /** Mixtral: every layer is sparse. */
    ALL("all"),
    /**
     * Qwen2-MoE / Qwen3-MoE (docs/formats.md, "Qwen2-MoE"): layer L is sparse iff
     * {@code L ∉ mlp_only_layers && E > 0 && (L+1) % decoder_sparse_step == 0}.
     */
    DECODER_SPARSE_STEP("decoder_sparse_step"),
    /**
     * Native family (docs/attention-experts.md, "config.json"): {@code moe_layers} lists the sparse
     * layers (null: all). Held as its complement in {@link MoeConfig#mlpOnlyLayers()}, so the rule is
     * that of step 1.
     */
    LISTED("moe_layers");

    private final String token;

    SparseLayerRule(String token) {
        this.token = token;
    }

    public String token() {
        return token;
    }

    public static SparseLayerRule parse(String token) {
        for (SparseLayerRule r : values()) {
            if (r.token.equals(token)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown sparse layer rule \"" + token + "\"");
    }

    /** Whether {@code layer} is sparse; false outside {@code 0..num_hidden_layers-1}. */
    public boolean isSparse(MoeConfig moe, int numLayers, int layer) {
        if (moe == null || layer < 0 || layer >= numLayers) {
            return false;
        }
        return switch (this) {
            case NONE -> false;
            case ALL -> moe.numExperts() > 0;
            case LISTED -> !moe.mlpOnlyLayers().contains(layer) && moe.numExperts() > 0;
            case DECODER_SPARSE_STEP -> !moe.mlpOnlyLayers().contains(layer)
                    && moe.numExperts() > 0
                    && (layer + 1) % moe.decoderSparseStep() == 0;
        };
    }
}
