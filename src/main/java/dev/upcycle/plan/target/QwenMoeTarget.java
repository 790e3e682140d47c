package dev.upcycle.plan.target;

import dev.upcycle.model.Family;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.UpcycleSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Qwen2-MoE and Qwen3-MoE (docs/formats.md, "Qwen2-MoE" and "Qwen3-MoE"): both routing modes through
 * {@code norm_topk_prob}, any layer selection through {@code decoder_sparse_step} /
 * {@code mlp_only_layers}. Qwen2-MoE has fixed q/k/v biases and a shared expert with a sigmoid
 * gate (always present in sparse layers); Qwen3-MoE has per-head q/k RMSNorm and optional biases.
 */
final class QwenMoeTarget implements MoeTarget {
    /** Qwen2-MoE arrived in 4.40 and computed head_dim as hidden / heads until 4.53 (PR #37188). */
    private static final TransformersFloor QWEN2_MOE = new TransformersFloor("4.40", "Qwen2-MoE", List.of(
            new TransformersFloor.Rule(TransformersFloor.Feature.HEAD_DIM, "4.53",
                    "Qwen2-MoE reads head_dim only from 4.53"),
            new TransformersFloor.Rule(TransformersFloor.Feature.LLAMA3_ROPE, "4.43",
                    "the llama3 RoPE type exists only from 4.43")));
    /** Qwen3-MoE arrived in 4.51 reading head_dim (Qwen3 models set it) and the RoPE types of its time. */
    private static final TransformersFloor QWEN3_MOE = new TransformersFloor("4.51", "Qwen3-MoE", List.of(
            new TransformersFloor.Rule(TransformersFloor.Feature.HEAD_DIM, "4.51", "Qwen3-MoE reads head_dim"),
            new TransformersFloor.Rule(TransformersFloor.Feature.LLAMA3_ROPE, "4.43",
                    "the llama3 RoPE type exists only from 4.43")));

    private final boolean qwen3;

    QwenMoeTarget(boolean qwen3) {
        this.qwen3 = qwen3;
    }

    @Override
    public String cliName() {
        return qwen3 ? "qwen3-moe" : "qwen2-moe";
    }

    @Override
    public java.util.Optional<TransformersFloor> transformers() {
        return java.util.Optional.of(qwen3 ? QWEN3_MOE : QWEN2_MOE);
    }

    @Override
    public boolean isNaturalFor(Family source) {
        return source.name().equals(qwen3 ? "qwen3" : "qwen2");
    }

    @Override
    public String familyName() {
        return qwen3 ? "qwen3_moe" : "qwen2_moe";
    }

    @Override
    public boolean expresses(RoutingMode routing) {
        return true;
    }

    @Override
    public List<String> impossible(ModelConfig source, UpcycleSpec spec, List<Integer> layers) {
        List<String> out = new ArrayList<>();
        if (qwen3 && spec.hasSharedExpert()) {
            out.add("Qwen3-MoE has no shared expert; use --target qwen2-moe");
        }
        return out;
    }

    @Override
    public List<String> approximations(ModelConfig source) {
        List<String> out = new ArrayList<>();
        if (qwen3 && !source.hasQkNorm()) {
            out.add("Qwen3-MoE attention applies RMSNorm to every q and k head before RoPE, which the "
                    + source.family().name() + " source does not; RMSNorm divides by the vector's RMS, so no norm "
                    + "weight makes it the identity and attention logits change (the norms are written as ones)");
        }
        return out;
    }

    @Override
    public ModelConfig config(ModelConfig source, Family family, UpcycleSpec spec, ExpertLayout layout,
                              List<Integer> layers, double auxLoss) {
        ModelConfig.Builder b = TargetConfigs.common(source, family);
        TargetConfigs.qwenSlidingWindow(source, b);
        TargetConfigs.qwenSparseLayers(source.numHiddenLayers(), layers, b);
        if (qwen3) {
            // q/k/v/o biases share one flag; a Qwen2 source's q/k/v biases come with a zero o bias.
            b.attentionBias(source.hasQkvBias());
        } else {
            // Neutral shared expert when none was asked for: all zeros, output exactly 0
            // (docs/formats.md, "Choosing a target").
            b.sharedExpertWidth(layout.hasSharedExpert() ? layout.sharedIntermediate() : 1);
        }
        return b.numExperts(spec.experts()).numExpertsPerTok(spec.topK()).expertWidth(layout.expertIntermediate())
                .normTopkProb(spec.routing().normTopkProb()).routerAuxLossCoef(auxLoss)
                .build();
    }
}
