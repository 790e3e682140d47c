package dev.upcycle.plan.target;

import dev.upcycle.model.Family;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.UpcycleSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Mixtral (docs/formats.md, "Mixtral"): every layer sparse, experts {@code intermediate_size} wide,
 * weights always renormalised over the top-K (topk-softmax only), no biases, no q/k norm, no shared
 * expert.
 */
final class MixtralTarget implements MoeTarget {
    /**
     * Mixtral arrived in 4.36; its attention took head_dim from the config only after PR #34281
     * (October 2024), in 4.47 at the latest (it may be in 4.46; that could not be confirmed).
     */
    private static final TransformersFloor TRANSFORMERS = new TransformersFloor("4.36", "Mixtral", List.of(
            new TransformersFloor.Rule(TransformersFloor.Feature.HEAD_DIM, "4.47",
                    "Mixtral reads head_dim only from 4.47"),
            new TransformersFloor.Rule(TransformersFloor.Feature.LLAMA3_ROPE, "4.43",
                    "the llama3 RoPE type exists only from 4.43")));

    @Override
    public java.util.Optional<TransformersFloor> transformers() {
        return java.util.Optional.of(TRANSFORMERS);
    }

    @Override
    public String cliName() {
        return "mixtral";
    }

    @Override
    public String familyName() {
        return "mixtral";
    }

    @Override
    public boolean expresses(RoutingMode routing) {
        return routing == RoutingMode.TOPK_SOFTMAX;
    }

    @Override
    public boolean isNaturalFor(Family source) {
        return source.name().equals("llama") || source.name().equals("mistral");
    }

    @Override
    public String routingNote(RoutingMode routing) {
        return "Mixtral always renormalises";
    }

    @Override
    public List<String> impossible(ModelConfig source, UpcycleSpec spec, List<Integer> layers) {
        List<String> out = new ArrayList<>();
        if (!expresses(spec.routing())) {
            out.add("Mixtral always renormalises the top-K weights (topk-softmax) and cannot express "
                    + spec.routing() + " routing; use --target qwen2-moe / qwen3-moe (norm_topk_prob=false) or "
                    + "--routing topk-softmax");
        }
        if (layers.size() != source.numHiddenLayers()) {
            out.add("Mixtral makes every layer an MoE layer and cannot keep layers dense (--layers " + layers
                    + "); use --target qwen2-moe or qwen3-moe, which express it with decoder_sparse_step / mlp_only_layers");
        }
        if (spec.hasSharedExpert()) {
            out.add("Mixtral has no shared expert; use --target qwen2-moe");
        }
        return out;
    }

    @Override
    public List<String> approximations(ModelConfig source) {
        List<String> out = new ArrayList<>();
        int first = source.firstWindowLayer();
        if (source.usesSlidingWindow() && first > 0 && first < source.numHiddenLayers()) {
            out.add("the source uses full attention in layers 0.." + (first - 1)
                    + " and a sliding window after them; Mixtral applies one window to every layer");
        }
        return out;
    }

    @Override
    public ModelConfig config(ModelConfig source, Family family, UpcycleSpec spec, ExpertLayout layout,
                              List<Integer> layers, double auxLoss) {
        Integer window = source.usesSlidingWindow() ? source.slidingWindow() : null;
        return TargetConfigs.common(source, family)
                .intermediateSize(layout.expertIntermediate())
                .slidingWindow(window)
                .numExperts(spec.experts()).numExpertsPerTok(spec.topK()).expertWidth(layout.expertIntermediate())
                .routerAuxLossCoef(auxLoss)
                .build();
    }
}
