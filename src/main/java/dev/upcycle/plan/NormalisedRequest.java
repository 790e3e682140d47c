package dev.upcycle.plan;

import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.FfnActivation;
import dev.upcycle.moe.ScaleFactors;
import dev.upcycle.moe.UpcycleSpec;
import java.util.List;
import java.util.Map;

/**
 * A request checked against its seeds ({@link RequestNormaliser}), with what every later step reads.
 *
 * @param request        the request, its target pointed at native where only native can hold it
 * @param source         the first seed's config
 * @param seedTensors    every seed's tensor headers, in expert order
 * @param blocks         the output's block layout, resolved against the seed
 * @param identicalSeeds several seeds whose tensors are byte-identical: the merge is one dense function
 * @param activation     the dense FFN's activation
 * @param layout         where each expert's neurons come from
 * @param layers         the layers that become MoE layers
 * @param factors        the scale factors the experts get
 */
record NormalisedRequest(UpcycleRequest request, ModelConfig source, List<Map<String, TensorHeader>> seedTensors,
                         BlockSpec.Resolved blocks, boolean identicalSeeds, FfnActivation activation,
                         ExpertLayout layout, List<Integer> layers, ScaleFactors factors) {

    UpcycleSpec spec() {
        return request.spec();
    }

    /** The first seed's headers: the shapes and dtypes every seed shares. */
    Map<String, TensorHeader> tensors() {
        return seedTensors.get(0);
    }

    int seeds() {
        return seedTensors.size();
    }

    /** One seed, or several byte-identical ones: every expert copies the same dense function. */
    boolean oneFunction() {
        return seeds() == 1 || identicalSeeds;
    }
}
