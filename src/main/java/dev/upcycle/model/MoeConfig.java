package dev.upcycle.model;

import static dev.upcycle.model.ConfigLimits.range;
import static dev.upcycle.model.ConfigLimits.require;

import java.util.List;

/**
 * The MoE part of a config (docs/formats.md, "Output families"), under family-neutral names; the
 * family's {@link ConfigKeys} say how each is spelled in {@code config.json}. Checks that need the
 * dense part (layer ranges, Mixtral's expert width) are done by {@link ModelConfig}.
 *
 * @param numExperts         E, routed experts per sparse layer
 * @param numExpertsPerTok   k, experts each token is routed to
 * @param expertWidth        m, width of one routed expert ({@code intermediate_size} for Mixtral)
 * @param sharedExpertWidth  s, width of the shared expert, or null when the family has none
 * @param normTopkProb       whether the top-k weights are renormalised to sum to 1 (Mixtral: always)
 * @param decoderSparseStep  every this-many-th layer is sparse (Qwen MoE families; 1 otherwise)
 * @param mlpOnlyLayers      layers forced dense (Qwen MoE families; empty otherwise)
 * @param routerAuxLossCoef  load-balancing loss weight (training only)
 * @param outputRouterLogits whether the model returns router logits (training only)
 * @param routerJitterNoise  Mixtral's multiplicative router noise (training only; 0 otherwise)
 */
public record MoeConfig(int numExperts, int numExpertsPerTok, int expertWidth, Integer sharedExpertWidth,
                        boolean normTopkProb, int decoderSparseStep, List<Integer> mlpOnlyLayers,
                        double routerAuxLossCoef, boolean outputRouterLogits, double routerJitterNoise) {

    public MoeConfig {
        range("num_experts", numExperts, 1, ConfigLimits.MAX_EXPERTS);
        range("num_experts_per_tok", numExpertsPerTok, 1, numExperts);
        range("moe_intermediate_size", expertWidth, 1, ConfigLimits.MAX_INTERMEDIATE);
        if (sharedExpertWidth != null) {
            range("shared_expert_intermediate_size", sharedExpertWidth, 1, ConfigLimits.MAX_INTERMEDIATE);
        }
        range("decoder_sparse_step", decoderSparseStep, 1, ConfigLimits.MAX_LAYERS);
        require(mlpOnlyLayers != null, "mlp_only_layers must be a list");
        mlpOnlyLayers = List.copyOf(mlpOnlyLayers);
        require(Double.isFinite(routerAuxLossCoef) && routerAuxLossCoef >= 0,
                "router_aux_loss_coef = " + routerAuxLossCoef + " must be >= 0");
        require(Double.isFinite(routerJitterNoise) && routerJitterNoise >= 0,
                "router_jitter_noise = " + routerJitterNoise + " must be >= 0");
    }

    /** Whether there is a shared expert. */
    public boolean hasSharedExpert() {
        return sharedExpertWidth != null;
    }
}
