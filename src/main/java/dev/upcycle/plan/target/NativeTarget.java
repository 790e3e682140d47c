package dev.upcycle.plan.target;

import dev.upcycle.model.Family;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.UpcycleSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The native MoA format (docs/attention-experts.md, "The native checkpoint format"; family
 * {@code upcycle_moa}): Mixtral-named FFN experts, attention experts under a router, {@code moe_layers}
 * / {@code moa_layers} listing the expert layers. Routing with or without renormalisation
 * ({@code router_norm_topk_prob}); no shared expert. Qwen3's per-head q/k norms
 * ({@code attention_qk_norm}) and sliding windows (Qwen's encoding: {@code use_sliding_window},
 * {@code sliding_window}, {@code max_window_layers}) are carried, so those sources stay exact.
 */
final class NativeTarget implements MoeTarget {
    /** Attention experts and parallel blocks are this tool's own format: transformers has no class for it. */
    @Override
    public java.util.Optional<TransformersFloor> transformers() {
        return java.util.Optional.empty();
    }

    @Override
    public String cliName() {
        return "native";
    }

    @Override
    public String familyName() {
        return FamilyRegistry.NATIVE_MOA;
    }

    @Override
    public boolean expresses(RoutingMode routing) {
        return true;
    }

    @Override
    public boolean attentionExperts() {
        return true;
    }

    @Override
    public List<String> impossible(ModelConfig source, UpcycleSpec spec, List<Integer> layers) {
        List<String> out = new ArrayList<>();
        if (spec.hasSharedExpert()) {
            out.add("the native format has no shared expert; use --target qwen2-moe");
        }
        if (layers.size() != source.numHiddenLayers() && spec.granularity() != 1) {
            out.add("the native format writes dense layers intermediate_size wide, which is the expert width; "
                    + "--layers with --granularity > 1 cannot be expressed");
        }
        return out;
    }

    @Override
    public List<String> approximations(ModelConfig source) {
        return List.of();
    }

    @Override
    public ModelConfig config(ModelConfig source, Family family, UpcycleSpec spec, ExpertLayout layout,
                              List<Integer> layers, double auxLoss) {
        return config(source, family, spec, layout, layers, auxLoss, null, BlockSpec.SEED.resolve(source));
    }

    @Override
    public ModelConfig config(ModelConfig source, Family family, UpcycleSpec spec, ExpertLayout layout,
                              List<Integer> layers, double auxLoss, MoaSpec moa, BlockSpec.Resolved blocks) {
        boolean all = layers.size() == source.numHiddenLayers();
        List<Integer> dense = new ArrayList<>();
        for (int l = 0; l < source.numHiddenLayers(); l++) {
            if (!layers.contains(l)) {
                dense.add(l);
            }
        }
        // parallel_num_norms is 1 in the config of sequential blocks (as in the docs' example), where
        // it is unused.
        int norms = blocks.parallel() ? blocks.norms() : 1;
        // --attention keep: an FFN-only MoE in the native format, no MoA layer.
        boolean qkNorm = source.hasQkNorm();
        MoaConfig moaConfig = moa == null
                ? new MoaConfig(MoaConfig.Variant.SEPARATE, 1, null, List.of(), blocks.layout(), norms, 0.0, qkNorm)
                : new MoaConfig(moa.variant(), moa.experts(), moa.topK(), all ? null : layers, blocks.layout(), norms,
                        0.0, qkNorm);
        boolean bias = source.hasQkvBias();
        ModelConfig.Builder b = TargetConfigs.common(source, family);
        if (source.usesSlidingWindow()) {
            TargetConfigs.qwenSlidingWindow(source, b);
        } else {
            // An unused window (Qwen's use_sliding_window: false) is no window.
            b.useSlidingWindow(false).slidingWindow(null).maxWindowLayers(null);
        }
        return b
                .intermediateSize(layout.expertIntermediate())
                .attentionBias(bias)
                .numExperts(spec.experts()).numExpertsPerTok(spec.topK()).expertWidth(layout.expertIntermediate())
                .normTopkProb(spec.routing().normTopkProb())
                .mlpOnlyLayers(dense)
                .routerAuxLossCoef(auxLoss)
                .moa(moaConfig)
                .build();
    }
}
