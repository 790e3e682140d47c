package dev.upcycle.model;

/**
 * When a tensor template applies, as written in the family files: one predicate, optionally
 * negated with a leading {@code !} (e.g. {@code "!tie_word_embeddings"}), optionally joined to
 * further conditions with {@code &} ({@code "moa_layer&attention_bias"}).
 *
 * @param and the rest of a conjunction, or null
 */
public record Condition(Predicate predicate, boolean negated, Condition and) {

    public Condition(Predicate predicate, boolean negated) {
        this(predicate, negated, null);
    }

    /** The closed set of facts a template can depend on. */
    public enum Predicate {
        ALWAYS("always"),
        ATTENTION_BIAS("attention_bias"),
        MLP_BIAS("mlp_bias"),
        TIE_WORD_EMBEDDINGS("tie_word_embeddings"),
        /** The layer carries routed experts (family's {@link SparseLayerRule}). */
        SPARSE_LAYER("sparse_layer"),
        /** The layer has a dense MLP: the complement of {@link #SPARSE_LAYER}. */
        DENSE_LAYER("dense_layer"),
        /**
         * The layer's attention is split into attention experts (native family,
         * docs/attention-experts.md).
         */
        MOA_LAYER("moa_layer"),
        /** A MoA layer whose experts own their keys and values (variant {@code separate}). */
        EXPERT_KV_LAYER("expert_kv_layer"),
        /** The block has a second norm before the FFN (sequential, or parallel with two norms). */
        TWO_NORMS("two_norms"),
        /** The attention has per-head q/k RMSNorms before RoPE (Qwen3 families; native when the config says so). */
        QK_NORM("qk_norm");

        private final String token;

        Predicate(String token) {
            this.token = token;
        }

        public String token() {
            return token;
        }
    }

    public static final Condition ALWAYS = new Condition(Predicate.ALWAYS, false);

    /** Parses {@code [!]token}; IllegalArgumentException for an unknown token (family files are ours). */
    public static Condition parse(String text) {
        int amp = text.indexOf('&');
        if (amp >= 0) {
            Condition first = parse(text.substring(0, amp));
            return new Condition(first.predicate, first.negated, parse(text.substring(amp + 1)));
        }
        boolean negated = text.startsWith("!");
        String token = negated ? text.substring(1) : text;
        for (Predicate p : Predicate.values()) {
            if (p.token.equals(token)) {
                return new Condition(p, negated);
            }
        }
        throw new IllegalArgumentException("unknown condition \"" + text + "\"");
    }

    /** Whether the condition holds for {@code layer} (-1 outside the layers) under {@code config}. */
    public boolean test(ModelConfig config, int layer) {
        boolean value = switch (predicate) {
            case ALWAYS -> true;
            case ATTENTION_BIAS -> config.attentionBias();
            case MLP_BIAS -> config.mlpBias();
            case TIE_WORD_EMBEDDINGS -> config.tieWordEmbeddings();
            case SPARSE_LAYER -> config.isSparseLayer(layer);
            case DENSE_LAYER -> !config.isSparseLayer(layer);
            case MOA_LAYER -> config.isMoaLayer(layer);
            case EXPERT_KV_LAYER -> config.isMoaLayer(layer) && config.moa().variant() == MoaConfig.Variant.SEPARATE;
            case TWO_NORMS -> config.normsPerBlock() == 2;
            case QK_NORM -> config.hasQkNorm();
        };
        return value != negated && (and == null || and.test(config, layer));
    }

    /** True when the tensor's presence follows a config flag rather than being fixed by the family. */
    public boolean dependsOnFlag() {
        return predicate == Predicate.ATTENTION_BIAS || predicate == Predicate.MLP_BIAS
                || (and != null && and.dependsOnFlag());
    }

    @Override
    public String toString() {
        return (negated ? "!" : "") + predicate.token + (and == null ? "" : "&" + and);
    }
}
