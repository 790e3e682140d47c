package dev.upcycle.plan.target;

import dev.upcycle.model.Family;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.SourceJson;
import java.util.ArrayList;
import java.util.List;

/**
 * What every target carries over from the source config (docs/formats.md, "Choosing a target" and
 * "Config fields").
 */
final class TargetConfigs {
    private TargetConfigs() {
    }

    /**
     * A builder for {@code family} holding the source's common fields: sizes, heads, head_dim,
     * activation, norm epsilon, context length, tied embeddings, token ids, initializer,
     * dropout, RoPE, dtype hint, and the source JSON (its unknown fields are carried by the writer).
     */
    static ModelConfig.Builder common(ModelConfig s, Family family) {
        return ModelConfig.builder(family)
                .vocabSize(s.vocabSize()).hiddenSize(s.hiddenSize()).intermediateSize(s.intermediateSize())
                .numHiddenLayers(s.numHiddenLayers()).numAttentionHeads(s.numAttentionHeads())
                .numKeyValueHeads(s.numKeyValueHeads()).headDim(s.headDim()).hiddenAct(s.hiddenAct())
                .rmsNormEps(s.rmsNormEps()).maxPositionEmbeddings(s.maxPositionEmbeddings())
                .tieWordEmbeddings(s.tieWordEmbeddings()).bosTokenId(s.bosTokenId()).eosTokenIds(s.eosTokenIds())
                .padTokenId(s.padTokenId()).initializerRange(s.initializerRange())
                .attentionDropout(s.attentionDropout()).rope(s.rope()).dtype(s.dtype()).source(SourceJson.of(s.raw()));
    }

    /** The source's sliding window as (use, window, maxWindowLayers) in Qwen's encoding. */
    static void qwenSlidingWindow(ModelConfig s, ModelConfig.Builder b) {
        if (s.windowHasSwitch()) {
            b.useSlidingWindow(s.useSlidingWindow()).slidingWindow(s.slidingWindow())
                    .maxWindowLayers(s.maxWindowLayers());
        } else if (s.usesSlidingWindow()) {
            // Mistral: every layer uses the window; in Qwen's encoding, windowed from layer 0 on.
            b.useSlidingWindow(true).slidingWindow(s.slidingWindow()).maxWindowLayers(0);
        } else {
            b.useSlidingWindow(false).slidingWindow(null).maxWindowLayers(null);
        }
    }

    /** Qwen-MoE: decoder_sparse_step and mlp_only_layers that make exactly {@code layers} sparse. */
    static void qwenSparseLayers(int numLayers, List<Integer> layers, ModelConfig.Builder b) {
        for (int step = 1; step <= numLayers; step++) {
            List<Integer> byStep = new ArrayList<>();
            for (int l = 0; l < numLayers; l++) {
                if ((l + 1) % step == 0) {
                    byStep.add(l);
                }
            }
            if (byStep.equals(layers)) {
                b.decoderSparseStep(step).mlpOnlyLayers(List.of());
                return;
            }
        }
        List<Integer> dense = new ArrayList<>();
        for (int l = 0; l < numLayers; l++) {
            if (!layers.contains(l)) {
                dense.add(l);
            }
        }
        b.decoderSparseStep(1).mlpOnlyLayers(dense);
    }
}
