package dev.upcycle.model;

/**
 * What a tensor is for, independent of how a family spells its name. Every template of a
 * family has exactly one role, and a role appears at most once per family, so
 * {@code (role, layer, expert)} identifies a tensor.
 */
public enum TensorRole {
    EMBED,
    ATTN_NORM,
    ATTN_Q,
    ATTN_K,
    ATTN_V,
    ATTN_O,
    ATTN_Q_BIAS,
    ATTN_K_BIAS,
    ATTN_V_BIAS,
    ATTN_O_BIAS,
    ATTN_Q_NORM,
    ATTN_K_NORM,
    MLP_NORM,
    MLP_GATE,
    MLP_UP,
    MLP_DOWN,
    MLP_GATE_BIAS,
    MLP_UP_BIAS,
    MLP_DOWN_BIAS,
    ROUTER,
    EXPERT_GATE,
    EXPERT_UP,
    EXPERT_DOWN,
    SHARED_EXPERT_GATE_PROJ,
    SHARED_EXPERT_UP,
    SHARED_EXPERT_DOWN,
    /** Qwen2-MoE {@code shared_expert_gate}: the per-token sigmoid gate of the shared expert. */
    SHARED_EXPERT_ROUTER,
    /**
     * Native family: the attention router {@code [E_a, d]} of a MoA layer (docs/attention-experts.md,
     * "The soft mixture of attention").
     */
    ATTN_ROUTER,
    /**
     * Native family: per attention expert projections (docs/attention-experts.md, "Tensors"); k and v
     * only in variant separate.
     */
    ATTN_EXPERT_Q,
    ATTN_EXPERT_K,
    ATTN_EXPERT_V,
    ATTN_EXPERT_O,
    ATTN_EXPERT_Q_BIAS,
    ATTN_EXPERT_K_BIAS,
    ATTN_EXPERT_V_BIAS,
    ATTN_EXPERT_O_BIAS,
    /**
     * Native family, Qwen3 sources: per-head q/k RMSNorm weights of an attention expert; the k norm
     * only in variant separate (shared_kv layers share one {@link #ATTN_K_NORM}, as they share k).
     */
    ATTN_EXPERT_Q_NORM,
    ATTN_EXPERT_K_NORM,
    FINAL_NORM,
    LM_HEAD;

    /** Bias vectors: their presence is governed by config flags, so mismatches are ConfigConflicts. */
    public boolean isBias() {
        return name().endsWith("_BIAS");
    }

    /** Tensors that exist once per routed expert (their names contain {@code {X}}). */
    public boolean isRoutedExpert() {
        return this == EXPERT_GATE || this == EXPERT_UP || this == EXPERT_DOWN;
    }

    /** Per-head q/k RMSNorm weights, of the layer or of an attention expert. */
    public boolean isQkNorm() {
        return this == ATTN_Q_NORM || this == ATTN_K_NORM || this == ATTN_EXPERT_Q_NORM || this == ATTN_EXPERT_K_NORM;
    }

    /** Tensors that exist once per attention expert. */
    public boolean isAttentionExpert() {
        return name().startsWith("ATTN_EXPERT_");
    }

    /**
     * For an attention-expert role, the dense attention role it is a copy of
     * ({@code ATTN_EXPERT_Q -> ATTN_Q}); the role itself otherwise.
     */
    public TensorRole denseAttention() {
        return isAttentionExpert() ? valueOf("ATTN_" + name().substring("ATTN_EXPERT_".length())) : this;
    }
}
