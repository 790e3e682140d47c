package dev.upcycle.model;

/**
 * A symbolic tensor dimension as written in the family files, resolved against a config.
 * Dimensions are bounded by {@link ConfigLimits} so that every value and product here fits
 * comfortably in a long.
 */
public enum Dim {
    /** {@code vocab_size}. */
    V("V"),
    /** {@code hidden_size}. */
    D("d"),
    /** Query width: {@code num_attention_heads * head_dim}. */
    Q("h*hd"),
    /** Key/value width: {@code num_key_value_heads * head_dim}. */
    KV("kv*hd"),
    /** {@code intermediate_size}: width of a dense MLP. */
    F("f"),
    /** Width of one routed expert ({@code moe_intermediate_size}, or {@code intermediate_size} for Mixtral). */
    M("m"),
    /** {@code shared_expert_intermediate_size}. */
    S("s"),
    /** Number of routed experts. */
    E("E"),
    /** Number of attention experts (native family). */
    EA("Ea"),
    /** {@code head_dim}. */
    HD("hd"),
    ONE("1");

    private final String symbol;

    Dim(String symbol) {
        this.symbol = symbol;
    }

    /** The spelling used in family files. */
    public String symbol() {
        return symbol;
    }

    /** Parses a family-file symbol; IllegalArgumentException for anything else (family files are ours). */
    public static Dim parse(String symbol) {
        for (Dim d : values()) {
            if (d.symbol.equals(symbol)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown dimension symbol \"" + symbol + "\"");
    }

    /** The value of this dimension under {@code config}. */
    public long value(ModelConfig config) {
        MoeConfig moe = config.moe();
        return switch (this) {
            case V -> config.vocabSize();
            case D -> config.hiddenSize();
            case Q -> (long) config.numAttentionHeads() * config.headDim();
            case KV -> (long) config.numKeyValueHeads() * config.headDim();
            case F -> config.intermediateSize();
            case M -> requireMoe(moe).expertWidth();
            case S -> sharedWidth(requireMoe(moe));
            case E -> requireMoe(moe).numExperts();
            case EA -> {
                if (config.moa() == null) {
                    throw new IllegalStateException("dimension Ea needs attention experts");
                }
                yield config.moa().numAttentionExperts();
            }
            case HD -> config.headDim();
            case ONE -> 1;
        };
    }

    private long sharedWidth(MoeConfig moe) {
        if (moe.sharedExpertWidth() == null) {
            throw new IllegalStateException("dimension s needs a shared expert");
        }
        return moe.sharedExpertWidth();
    }

    private MoeConfig requireMoe(MoeConfig moe) {
        if (moe == null) {
            throw new IllegalStateException("dimension " + symbol + " needs an MoE config");
        }
        return moe;
    }
}
