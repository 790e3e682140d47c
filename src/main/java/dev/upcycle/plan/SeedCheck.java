package dev.upcycle.plan;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.ModelConfig;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Seeds merged into one model (docs/attention-experts.md, "Several seeds: BTX and BAM merges")
 * must have the same family, every shape-defining field, the same RoPE and norm epsilon, and the
 * same tensors with the same shapes. The first difference is refused (exit 3) by name.
 */
final class SeedCheck {
    private SeedCheck() {
    }

    /**
     * The config half of {@link #requireSameArchitecture}, for a caller that has only the configs
     * yet (convert --config checks them before it runs prompts through the base model).
     */
    static void requireSameConfig(List<ModelConfig> seeds) {
        Map<String, Function<ModelConfig, Object>> fields = fields();
        for (int i = 1; i < seeds.size(); i++) {
            for (var f : fields.entrySet()) {
                Object x = f.getValue().apply(seeds.get(0));
                Object y = f.getValue().apply(seeds.get(i));
                if (!Objects.equals(x, y)) {
                    throw mismatch(i, f.getKey() + " is " + y + ", seed 0 has " + x);
                }
            }
        }
    }

    static void requireSameArchitecture(List<ModelConfig> seeds, List<Map<String, TensorHeader>> tensors) {
        ModelConfig a = seeds.get(0);
        Map<String, Function<ModelConfig, Object>> fields = fields();
        for (int i = 1; i < seeds.size(); i++) {
            ModelConfig b = seeds.get(i);
            for (var f : fields.entrySet()) {
                Object x = f.getValue().apply(a);
                Object y = f.getValue().apply(b);
                if (!Objects.equals(x, y)) {
                    throw mismatch(i, f.getKey() + " is " + y + ", seed 0 has " + x);
                }
            }
            Map<String, TensorHeader> ta = tensors.get(0);
            Map<String, TensorHeader> tb = tensors.get(i);
            for (var e : ta.entrySet()) {
                TensorHeader h = tb.get(e.getKey());
                if (h == null) {
                    throw mismatch(i, "tensor " + e.getKey() + " is missing");
                }
                if (!h.shape().equals(e.getValue().shape())) {
                    throw mismatch(i, "tensor " + e.getKey() + " has shape " + h.shape() + ", seed 0 has "
                            + e.getValue().shape());
                }
            }
            for (String name : tb.keySet()) {
                if (!ta.containsKey(name)) {
                    throw mismatch(i, "tensor " + name + " is not in seed 0");
                }
            }
        }
    }

    /** The fields seeds must share, by config.json name. */
    private static Map<String, Function<ModelConfig, Object>> fields() {
        Map<String, Function<ModelConfig, Object>> fields = new LinkedHashMap<>();
        fields.put("model_type", ModelConfig::modelType);
        fields.put("hidden_size", ModelConfig::hiddenSize);
        fields.put("intermediate_size", ModelConfig::intermediateSize);
        fields.put("num_hidden_layers", ModelConfig::numHiddenLayers);
        fields.put("num_attention_heads", ModelConfig::numAttentionHeads);
        fields.put("num_key_value_heads", ModelConfig::numKeyValueHeads);
        fields.put("head_dim", ModelConfig::headDim);
        fields.put("vocab_size", ModelConfig::vocabSize);
        fields.put("tie_word_embeddings", ModelConfig::tieWordEmbeddings);
        fields.put("attention_bias", ModelConfig::attentionBias);
        fields.put("mlp_bias", ModelConfig::mlpBias);
        fields.put("hidden_act", ModelConfig::hiddenAct);
        fields.put("rope_theta", c -> c.rope().theta());
        fields.put("rope_scaling", c -> String.valueOf(c.rope().scaling()));
        fields.put("rms_norm_eps", ModelConfig::rmsNormEps);
        fields.put("sliding_window", ModelConfig::slidingWindow);
        // Qwen's window switch and its first windowed layer: the same window on other layers is another function.
        fields.put("use_sliding_window", ModelConfig::useSlidingWindow);
        fields.put("max_window_layers", ModelConfig::maxWindowLayers);
        fields.put("block_layout", c -> c.blockLayout().token());
        fields.put("norms per block", ModelConfig::normsPerBlock);
        return fields;
    }

    private static UpcycleException mismatch(int seed, String why) {
        return new UpcycleException(ErrorKind.ImpossibleCombination, "seed " + seed,
                "seeds must have identical architecture: " + why, "merge seeds branched from one model");
    }
}
