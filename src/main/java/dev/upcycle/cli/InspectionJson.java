package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.DType;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.MoeConfig;
import dev.upcycle.verify.Inspection;
import java.util.Map;

/** The {@code inspect --json} document. Field names are snake_case, like config.json. */
final class InspectionJson {
    private InspectionJson() {
    }

    static ObjectNode of(Inspection r) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("path", r.path().toString());
        o.put("format", "safetensors");
        o.put("sharded", r.sharded());
        ArrayNode files = o.putArray("files");
        long total = 0;
        for (Inspection.FileInfo f : r.files()) {
            files.addObject().put("name", f.name()).put("size", f.size()).put("tensors", f.tensors());
            total += f.size();
        }
        o.put("file_bytes", total);
        o.put("tensor_bytes", r.tensorBytes());
        o.put("tensor_count", r.tensorCount());
        ObjectNode dtypes = o.putObject("dtypes");
        for (Map.Entry<DType, Long> e : r.dtypes().entrySet().stream()
                .sorted(Map.Entry.comparingByKey()).toList()) {
            dtypes.put(e.getKey().name(), e.getValue());
        }
        o.putObject("parameters").put("total", r.parameters()).put("active", r.active());
        ModelConfig c = r.config();
        if (c == null) {
            o.putNull("family");
        } else {
            o.put("family", c.family().name());
            o.put("model_type", c.modelType());
            o.put("architecture", c.architectures().get(0));
            ObjectNode a = o.putObject("architecture_numbers");
            a.put("num_hidden_layers", c.numHiddenLayers());
            a.put("hidden_size", c.hiddenSize());
            a.put("intermediate_size", c.intermediateSize());
            a.put("num_attention_heads", c.numAttentionHeads());
            a.put("num_key_value_heads", c.numKeyValueHeads());
            a.put("head_dim", c.headDim());
            a.put("vocab_size", c.vocabSize());
            a.put("hidden_act", c.hiddenAct());
            a.put("rms_norm_eps", c.rmsNormEps());
            a.put("tie_word_embeddings", c.tieWordEmbeddings());
            a.put("rope_theta", c.rope().theta());
            a.put("rope_type", c.rope().type());
            if (c.slidingWindow() != null) {
                a.put("sliding_window", c.slidingWindow());
            } else {
                a.putNull("sliding_window");
            }
            a.put("dtype", c.dtype());
            MoeConfig m = c.moe();
            if (m == null) {
                o.putNull("moe");
            } else {
                ObjectNode mo = o.putObject("moe");
                mo.put("experts", m.numExperts());
                mo.put("top_k", m.numExpertsPerTok());
                mo.put("expert_intermediate_size", m.expertWidth());
                if (m.sharedExpertWidth() != null) {
                    mo.put("shared_expert_intermediate_size", m.sharedExpertWidth());
                }
                mo.put("norm_topk_prob", m.normTopkProb());
                ArrayNode sparse = mo.putArray("sparse_layers");
                c.sparseLayers().forEach(sparse::add);
            }
            MoaConfig moa = c.moa();
            if (moa == null) {
                o.putNull("moa");
            } else {
                // Attention experts and the block layout of a native model (docs/attention-experts.md,
                // "The native checkpoint format").
                ObjectNode ma = o.putObject("moa");
                ma.put("variant", moa.variant().token());
                ma.put("attention_experts", moa.numAttentionExperts());
                if (moa.soft()) {
                    ma.putNull("attention_experts_per_tok");
                } else {
                    ma.put("attention_experts_per_tok", moa.activeExperts());
                }
                ArrayNode layers = ma.putArray("moa_layers");
                c.moaLayers().forEach(layers::add);
                ma.put("block_layout", moa.blockLayout().token());
                ma.put("parallel_num_norms", moa.parallelNumNorms());
            }
        }
        ArrayNode problems = o.putArray("problems");
        for (Finding f : r.problems()) {
            ObjectNode p = problems.addObject();
            p.put("severity", f.severity().name().toLowerCase(java.util.Locale.ROOT));
            p.put("kind", f.kind().name());
            if (f.tensor() != null) {
                p.put("tensor", f.tensor());
            } else {
                p.putNull("tensor");
            }
            p.put("message", f.message());
        }
        o.put("ok", !r.hasErrors());
        return o;
    }
}
