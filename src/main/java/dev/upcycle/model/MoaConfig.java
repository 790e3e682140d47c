package dev.upcycle.model;

import static dev.upcycle.model.ConfigLimits.range;
import static dev.upcycle.model.ConfigLimits.require;

import java.util.List;
import java.util.Locale;

/**
 * The attention-expert part of a native ({@code upcycle_moa}) config (docs/attention-experts.md,
 * "config.json").
 *
 * @param variant                 {@code separate} (experts own q, k, v, o) or {@code shared_kv}
 *                                (experts own q and o; one k and v per layer)
 * @param numAttentionExperts     E_a, attention experts per MoA layer
 * @param attentionExpertsPerTok  k_a for top-k routing (renormalised), or null for soft routing
 * @param moaLayers               layers with attention experts, ascending, or null for every layer
 * @param blockLayout             sequential (Llama) or parallel (BAM) blocks
 *                                (docs/attention-experts.md, "Block layouts")
 * @param parallelNumNorms        norms per parallel block: 1 (input_layernorm only) or 2
 * @param attentionRouterZLossCoef z-loss weight of the attention router (training only;
 *                                 docs/attention-experts.md, "Training the routers")
 * @param qkNorm                  per-head q/k RMSNorms before RoPE, as in Qwen3 ({@code attention_qk_norm})
 */
public record MoaConfig(Variant variant, int numAttentionExperts, Integer attentionExpertsPerTok,
                        List<Integer> moaLayers, BlockLayout blockLayout, int parallelNumNorms,
                        double attentionRouterZLossCoef, boolean qkNorm) {

    /** Without q/k norms. */
    public MoaConfig(Variant variant, int numAttentionExperts, Integer attentionExpertsPerTok,
                     List<Integer> moaLayers, BlockLayout blockLayout, int parallelNumNorms,
                     double attentionRouterZLossCoef) {
        this(variant, numAttentionExperts, attentionExpertsPerTok, moaLayers, blockLayout, parallelNumNorms,
                attentionRouterZLossCoef, false);
    }

    /** Separate or shared k/v (docs/attention-experts.md, "Two variants: separate and shared k/v"). */
    public enum Variant {
        SEPARATE, SHARED_KV;

        public String token() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Variant parse(String s) {
            for (Variant v : values()) {
                if (v.token().equals(s)) {
                    return v;
                }
            }
            throw new dev.upcycle.error.UpcycleException(dev.upcycle.error.ErrorKind.InvalidConfig, ConfigLimits.WHERE,
                    "moa_variant \"" + s + "\" is not one of separate, shared_kv");
        }
    }

    /** Sequential or parallel blocks (docs/attention-experts.md, "Block layouts"). */
    public enum BlockLayout {
        SEQUENTIAL, PARALLEL;

        public String token() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static BlockLayout parse(String s) {
            for (BlockLayout v : values()) {
                if (v.token().equals(s)) {
                    return v;
                }
            }
            throw new dev.upcycle.error.UpcycleException(dev.upcycle.error.ErrorKind.InvalidConfig, ConfigLimits.WHERE,
                    "block_layout \"" + s + "\" is not one of sequential, parallel");
        }
    }

    public MoaConfig {
        require(variant != null, "moa_variant is required");
        require(blockLayout != null, "block_layout is required");
        range("num_attention_experts", numAttentionExperts, 1, ConfigLimits.MAX_EXPERTS);
        if (attentionExpertsPerTok != null) {
            range("attention_experts_per_tok", attentionExpertsPerTok, 1, numAttentionExperts);
        }
        moaLayers = moaLayers == null ? null : List.copyOf(moaLayers);
        range("parallel_num_norms", parallelNumNorms, 1, 2);
        require(Double.isFinite(attentionRouterZLossCoef) && attentionRouterZLossCoef >= 0,
                "attention_router_z_loss_coef = " + attentionRouterZLossCoef + " must be >= 0");
    }

    /** Soft routing: every token uses every attention expert. */
    public boolean soft() {
        return attentionExpertsPerTok == null || attentionExpertsPerTok == numAttentionExperts;
    }

    /** k_a: experts used per token. */
    public int activeExperts() {
        return attentionExpertsPerTok == null ? numAttentionExperts : attentionExpertsPerTok;
    }

    public boolean isMoaLayer(int layer) {
        return layer >= 0 && (moaLayers == null || moaLayers.contains(layer));
    }

    /** Whether a block has a second norm ({@code post_attention_layernorm}). */
    public boolean twoNorms() {
        return blockLayout == BlockLayout.SEQUENTIAL || parallelNumNorms == 2;
    }

    /** A sequential, soft-routed config. */
    public static MoaConfig of(Variant variant, int experts) {
        return new MoaConfig(variant, experts, null, null, BlockLayout.SEQUENTIAL, 1, 0.0);
    }
}
