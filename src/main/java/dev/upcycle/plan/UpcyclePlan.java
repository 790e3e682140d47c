package dev.upcycle.plan;

import dev.upcycle.io.ShardPlan;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.FfnActivation;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.moe.ScaleFactors;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTarget;
import dev.upcycle.plan.target.TransformersFloor;
import java.util.List;

/**
 * A conversion, decided before any byte is written: every output tensor with its source,
 * slice, factor, dtype and shard, the target config, sizes, and whether step 0 reproduces the
 * dense model. {@code --dry-run} prints it; the executor streams it.
 *
 * @param request           what was asked
 * @param source            the dense config
 * @param target            the output family
 * @param targetConfig      the output config.json
 * @param layout            where each expert's neurons come from
 * @param factors           the scale factors applied
 * @param activation        the dense FFN's activation
 * @param moeLayers         the layers that become MoE layers
 * @param tensors           every output tensor, in state-dict order
 * @param shards            output files, in order
 * @param totalParameters   parameters written
 * @param activeParameters  parameters used per token (routed experts: top-k of them)
 * @param outputBytes       tensor bytes written (headers not counted)
 * @param fidelity          step-0 verdict with reasons
 * @param choices           sentences explaining each automatic choice
 * @param warnings          things the user should know (lost fields, dtype narrowing, ...)
 */
public record UpcyclePlan(UpcycleRequest request, ModelConfig source, MoeTarget target, ModelConfig targetConfig,
                          ExpertLayout layout, ScaleFactors factors, FfnActivation activation, List<Integer> moeLayers,
                          List<PlannedTensor> tensors, List<ShardPlan> shards, long totalParameters,
                          long activeParameters, long outputBytes, Fidelity fidelity, List<String> choices,
                          List<String> warnings) {

    public UpcyclePlan {
        moeLayers = List.copyOf(moeLayers);
        tensors = List.copyOf(tensors);
        shards = List.copyOf(shards);
        choices = List.copyOf(choices);
        warnings = List.copyOf(warnings);
    }

    public UpcycleSpec spec() {
        return request.spec();
    }

    /** The source tensors the plan reads, each once, in plan order. */
    public List<String> sourceTensorsRead() {
        return tensors.stream().map(t -> t.source().sourceName()).filter(n -> n != null).distinct().toList();
    }

    /** The oldest transformers release that loads the output exactly; empty for the native format. */
    public java.util.Optional<TransformersFloor.Floor> transformersFloor() {
        return target.transformers().map(t -> t.of(targetConfig));
    }
}
