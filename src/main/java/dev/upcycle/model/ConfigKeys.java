package dev.upcycle.model;

import java.util.List;

/**
 * The {@code config.json} key names that differ between MoE families. All null for dense
 * families.
 *
 * @param numExperts        key of the routed expert count ({@code num_local_experts} or {@code num_experts})
 * @param numExpertsAliases other keys accepted on read for the same value (never written)
 * @param expertWidth       key of a routed expert's width ({@code intermediate_size} for Mixtral,
 *                          whose experts are as wide as the dense MLP; {@code moe_intermediate_size})
 * @param sharedExpertWidth key of the shared expert's width, or null when the family has none
 */
public record ConfigKeys(String numExperts, List<String> numExpertsAliases, String expertWidth,
                         String sharedExpertWidth, String numAttentionExperts, String normTopkProb) {

    public static final ConfigKeys DENSE = new ConfigKeys(null, List.of(), null, null);

    /**
     * @param numAttentionExperts key of the attention expert count (native family), or null when
     *                            the family has no attention experts
     * @param normTopkProb        key of the top-k renormalisation flag ({@code norm_topk_prob} unless given)
     */
    public ConfigKeys {
        numExpertsAliases = List.copyOf(numExpertsAliases);
        normTopkProb = normTopkProb == null ? "norm_topk_prob" : normTopkProb;
    }

    public ConfigKeys(String numExperts, List<String> numExpertsAliases, String expertWidth, String sharedExpertWidth) {
        this(numExperts, numExpertsAliases, expertWidth, sharedExpertWidth, null, null);
    }

    /** Whether the expert width is a key of its own rather than the dense {@code intermediate_size}. */
    public boolean hasOwnExpertWidth() {
        return expertWidth != null && !expertWidth.equals(ModelConfig.INTERMEDIATE_SIZE);
    }
}
