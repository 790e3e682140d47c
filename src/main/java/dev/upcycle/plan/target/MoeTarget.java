package dev.upcycle.plan.target;

import dev.upcycle.model.Family;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.UpcycleSpec;
import java.util.List;

/**
 * One output family (docs/formats.md, "Output families" and "Choosing a target"): whether it can take a
 * request, and if not why, and the {@code config.json} it gets. Tensor names come from the family's
 * data file; what the target cannot hold of the source's tensors is found by the planner, which sees
 * every tensor.
 */
public interface MoeTarget {

    /** The {@code --target} spelling. */
    String cliName();

    /** The name of the family resource ({@code mixtral}, {@code qwen2_moe}, {@code qwen3_moe}). */
    String familyName();

    /** Whether {@code norm_topk_prob} (or its absence) can express the routing mode. */
    boolean expresses(RoutingMode routing);

    /**
     * Reasons the target cannot take the request at all (routing, layer selection, shared
     * expert); empty when it can. These are refused even with {@code --allow-approximate}.
     */
    List<String> impossible(ModelConfig source, UpcycleSpec spec, List<Integer> layers);

    /**
     * Reasons the target's attention or norms cannot reproduce the source (besides tensors it
     * cannot hold, which the planner finds); empty when they can.
     */
    List<String> approximations(ModelConfig source);

    /** The target config: the source's fields carried over, MoE fields from the request. */
    ModelConfig config(ModelConfig source, Family family, UpcycleSpec spec, ExpertLayout layout,
                       List<Integer> layers, double routerAuxLossCoef);

    /**
     * The target config with the attention experts and block layout asked for ({@code moa} null for
     * none): the native target writes them; the others cannot hold them and ignore them.
     */
    default ModelConfig config(ModelConfig source, Family family, UpcycleSpec spec, ExpertLayout layout,
                               List<Integer> layers, double routerAuxLossCoef, MoaSpec moa, BlockSpec.Resolved blocks) {
        return config(source, family, spec, layout, layers, routerAuxLossCoef);
    }

    /**
     * The transformers releases that load this family's outputs exactly, or empty when
     * transformers does not load the family at all (the native format).
     */
    java.util.Optional<TransformersFloor> transformers();

    /**
     * How the target writes a routing mode, in the plan's words: the {@code norm_topk_prob} it
     * writes, or why it needs none.
     */
    default String routingNote(RoutingMode routing) {
        return "norm_topk_prob=" + routing.normTopkProb();
    }

    /**
     * Whether this is the MoE family of the dense family {@code source} (Mixtral for Llama and
     * Mistral, Qwen2-MoE for Qwen2, Qwen3-MoE for Qwen3): {@code auto} tries it first.
     */
    default boolean isNaturalFor(Family source) {
        return false;
    }

    /** Whether the target can hold attention experts (--attention moa-*). */
    default boolean attentionExperts() {
        return false;
    }
}
