package dev.upcycle.moe;

/** How router logits become expert weights (docs/method.md, "Routing modes"). */
public enum RoutingMode {
    /**
     * Softmax over all N experts, then top-K, no renormalisation: Megatron
     * {@code --moe-router-pre-softmax}, Qwen-MoE with {@code norm_topk_prob=false}; the paper's
     * recommended choice. Mixtral cannot express it.
     */
    SOFTMAX_TOPK("softmax-topk"),
    /**
     * Top-K of the logits, then softmax over the K selected: Megatron's default, Mixtral, Qwen-MoE
     * with {@code norm_topk_prob=true}.
     */
    TOPK_SOFTMAX("topk-softmax");

    private final String cliName;

    RoutingMode(String cliName) {
        this.cliName = cliName;
    }

    /** The {@code --routing} spelling. */
    public String cliName() {
        return cliName;
    }

    /**
     * The Qwen-MoE {@code norm_topk_prob} value that expresses this mode (docs/formats.md,
     * "Qwen2-MoE").
     */
    public boolean normTopkProb() {
        return this == TOPK_SOFTMAX;
    }

    /** Parses a {@code --routing} value. */
    public static RoutingMode parse(String text) {
        return CliNames.parse(values(), RoutingMode::cliName, "--routing", "routing mode", text);
    }

    @Override
    public String toString() {
        return cliName;
    }
}
