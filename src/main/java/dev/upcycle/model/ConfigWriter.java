package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link ModelConfig} → the family's {@code config.json} object, in a fixed key order. RoPE is
 * written in both encodings and the dtype under both keys (docs/formats.md, "Config fields"),
 * {@code head_dim} always explicitly, MoE fields under the family's key names.
 * {@code parse(toJson(c)) equals c} for every family.
 */
public final class ConfigWriter {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /**
     * Every key this tool interprets for some family, including synonyms it reads. Source
     * fields outside this set are "unknown" and may be carried over; fields inside it are
     * always rewritten from the record, so a stale or foreign value (a Llama {@code mlp_bias}
     * in a Mixtral config) is never copied.
     */
    static final Set<String> KNOWN_KEYS = Set.of("architectures", "model_type", "vocab_size", "hidden_size",
            "intermediate_size", "moe_intermediate_size", "shared_expert_intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps",
            "max_position_embeddings", "initializer_range", "attention_dropout", "tie_word_embeddings",
            "attention_bias", "mlp_bias", "pretraining_tp", "use_sliding_window", "sliding_window",
            "max_window_layers", "bos_token_id", "eos_token_id", "pad_token_id", "rope_theta", "rope_scaling",
            "rope_parameters", "num_experts", "num_local_experts", "num_experts_per_tok", "norm_topk_prob",
            "decoder_sparse_step", "mlp_only_layers", "router_aux_loss_coef", "output_router_logits",
            "router_jitter_noise", "torch_dtype", "dtype", "router_norm_topk_prob", "moe_layers", "moa_variant",
            "num_attention_experts", "attention_experts_per_tok", "moa_layers", "block_layout", "parallel_num_norms",
            "attention_router_input", "attention_router_aux_loss_coef", "attention_router_z_loss_coef",
            "router_z_loss_coef", "router_dtype", "attention_qk_norm");

    private ConfigWriter() {
    }

    /** The config without the source's unknown fields. */
    public static ObjectNode toJson(ModelConfig c) {
        return toJson(c, false);
    }

    /**
     * The config; with {@code carryUnknown}, source fields this tool does not interpret
     * ({@code use_cache}, {@code transformers_version}, ...) follow at the end in source order.
     */
    public static ObjectNode toJson(ModelConfig c, boolean carryUnknown) {
        Family f = c.family();
        ObjectNode o = F.objectNode();
        ArrayNode archs = o.putArray("architectures");
        c.architectures().forEach(archs::add);
        o.put("model_type", f.modelType());
        o.put("vocab_size", c.vocabSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("intermediate_size", c.intermediateSize());
        MoeConfig moe = c.moe();
        if (moe != null && f.keys().hasOwnExpertWidth()) {
            o.put(f.keys().expertWidth(), moe.expertWidth());
        }
        if (moe != null && moe.hasSharedExpert()) {
            o.put(f.keys().sharedExpertWidth(), moe.sharedExpertWidth());
        }
        o.put("num_hidden_layers", c.numHiddenLayers());
        o.put("num_attention_heads", c.numAttentionHeads());
        o.put("num_key_value_heads", c.numKeyValueHeads());
        o.put("head_dim", c.headDim());
        o.put("hidden_act", c.hiddenAct());
        o.put("rms_norm_eps", c.rmsNormEps());
        o.put("max_position_embeddings", c.maxPositionEmbeddings());
        o.put("initializer_range", c.initializerRange());
        o.put("attention_dropout", c.attentionDropout());
        o.put("tie_word_embeddings", c.tieWordEmbeddings());
        putIfDeclared(o, f, "attention_bias", F.booleanNode(c.attentionBias()));
        putIfDeclared(o, f, "mlp_bias", F.booleanNode(c.mlpBias()));
        putIfDeclared(o, f, "pretraining_tp", F.numberNode(1));
        // The native format writes the window keys only when one differs from its default (no window):
        // without them it attends fully, and its configs stay as they were before it had windows.
        if (!f.moa() || c.useSlidingWindow() || c.slidingWindow() != null || c.maxWindowLayers() != null) {
            putIfDeclared(o, f, "use_sliding_window", F.booleanNode(c.useSlidingWindow()));
            putIfDeclared(o, f, "sliding_window", intOrNull(c.slidingWindow()));
            putIfDeclared(o, f, "max_window_layers", intOrNull(c.maxWindowLayers()));
        }
        o.set("bos_token_id", intOrNull(c.bosTokenId()));
        o.set("eos_token_id", eos(c.eosTokenIds()));
        o.set("pad_token_id", intOrNull(c.padTokenId()));
        writeRope(o, c.rope());
        if (moe != null) {
            writeMoe(o, f, moe, c.numHiddenLayers());
        }
        if (c.moa() != null) {
            writeMoa(o, f, c.moa());
        }
        if (c.dtype() != null) {
            o.put("torch_dtype", c.dtype());
            o.put("dtype", c.dtype());
        }
        if (carryUnknown) {
            for (Map.Entry<String, JsonNode> e : c.raw().properties()) {
                if (!KNOWN_KEYS.contains(e.getKey())) {
                    o.set(e.getKey(), e.getValue());
                }
            }
        }
        return o;
    }

    /** Both encodings with identical content, so transformers v4, v5 and vLLM agree. */
    private static void writeRope(ObjectNode o, Rope rope) {
        o.put("rope_theta", rope.theta());
        ObjectNode scaling = rope.scaling();
        o.set("rope_scaling", scaling == null ? F.nullNode() : scaling);
        ObjectNode params = F.objectNode();
        if (scaling == null) {
            params.put("rope_type", Rope.DEFAULT_TYPE);
        } else {
            params.setAll(scaling.deepCopy());
        }
        params.put("rope_theta", rope.theta());
        o.set("rope_parameters", params);
    }

    private static void writeMoe(ObjectNode o, Family f, MoeConfig moe, int layers) {
        // Only the primary key: it is what transformers v4 and vLLM read (v5 maps it too).
        o.put(f.keys().numExperts(), moe.numExperts());
        putIfDeclared(o, f, "num_experts_per_tok", F.numberNode(moe.numExpertsPerTok()));
        putIfDeclared(o, f, f.keys().normTopkProb(), F.booleanNode(moe.normTopkProb()));
        if (f.sparseLayers() == SparseLayerRule.LISTED) {
            List<Integer> sparse = new java.util.ArrayList<>();
            for (int l = 0; l < layers; l++) {
                if (!moe.mlpOnlyLayers().contains(l)) {
                    sparse.add(l);
                }
            }
            o.set("moe_layers", moe.mlpOnlyLayers().isEmpty() ? F.nullNode() : layerList(sparse));
        }
        putIfDeclared(o, f, "decoder_sparse_step", F.numberNode(moe.decoderSparseStep()));
        ArrayNode mlpOnly = F.arrayNode();
        moe.mlpOnlyLayers().forEach(mlpOnly::add);
        putIfDeclared(o, f, "mlp_only_layers", mlpOnly);
        putIfDeclared(o, f, "router_aux_loss_coef", F.numberNode(moe.routerAuxLossCoef()));
        putIfDeclared(o, f, "output_router_logits", F.booleanNode(moe.outputRouterLogits()));
        putIfDeclared(o, f, "router_jitter_noise", F.numberNode(moe.routerJitterNoise()));
    }

    /** The attention-expert fields of the native family (docs/attention-experts.md, "config.json"). */
    private static void writeMoa(ObjectNode o, Family f, MoaConfig moa) {
        o.put("moa_variant", moa.variant().token());
        o.put(f.keys().numAttentionExperts(), moa.numAttentionExperts());
        o.set("attention_experts_per_tok", intOrNull(moa.attentionExpertsPerTok()));
        o.put("attention_router_input", "normed_hidden");
        o.put("attention_router_aux_loss_coef", 0.0);
        o.put("attention_router_z_loss_coef", moa.attentionRouterZLossCoef());
        o.set("moa_layers", moa.moaLayers() == null ? F.nullNode() : layerList(moa.moaLayers()));
        o.put("block_layout", moa.blockLayout().token());
        o.put("parallel_num_norms", moa.parallelNumNorms());
        o.put("router_dtype", "float32");
        if (moa.qkNorm()) {
            o.put("attention_qk_norm", true);
        }
    }

    private static ArrayNode layerList(List<Integer> layers) {
        ArrayNode a = F.arrayNode();
        layers.forEach(a::add);
        return a;
    }

    private static void putIfDeclared(ObjectNode o, Family f, String key, JsonNode value) {
        if (f.declares(key)) {
            o.set(key, value);
        }
    }

    private static JsonNode intOrNull(Integer v) {
        return v == null ? F.nullNode() : F.numberNode(v);
    }

    /** One id as a plain int (what most checkpoints have), several as a list (Llama 3). */
    private static JsonNode eos(List<Integer> ids) {
        if (ids.isEmpty()) {
            return F.nullNode();
        }
        if (ids.size() == 1) {
            return F.numberNode(ids.get(0));
        }
        ArrayNode a = F.arrayNode();
        ids.forEach(a::add);
        return a;
    }
}
