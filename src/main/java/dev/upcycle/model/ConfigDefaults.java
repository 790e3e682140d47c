package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.Map;

/**
 * Defaults of optional {@code config.json} fields, in one place (docs/formats.md, "Config fields" and
 * "Output families"): a family's own class default wins, else the common one here. Both the parser and
 * {@link ModelConfig.Builder} resolve defaults through this class.
 */
final class ConfigDefaults {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** Common defaults; keys absent here and from the family default to null. */
    private static final Map<String, JsonNode> COMMON = Map.ofEntries(
            Map.entry("hidden_act", F.textNode("silu")),
            Map.entry("max_position_embeddings", F.numberNode(2048)),
            Map.entry("tie_word_embeddings", F.booleanNode(false)),
            Map.entry("attention_bias", F.booleanNode(false)),
            Map.entry("mlp_bias", F.booleanNode(false)),
            Map.entry("use_sliding_window", F.booleanNode(false)),
            Map.entry("initializer_range", F.numberNode(0.02)),
            Map.entry("attention_dropout", F.numberNode(0.0)),
            Map.entry("rope_theta", F.numberNode(10000.0)),
            Map.entry("pretraining_tp", F.numberNode(1)),
            Map.entry("num_experts_per_tok", F.numberNode(2)),
            Map.entry("norm_topk_prob", F.booleanNode(false)),
            Map.entry("decoder_sparse_step", F.numberNode(1)),
            Map.entry("router_aux_loss_coef", F.numberNode(0.001)),
            Map.entry("output_router_logits", F.booleanNode(false)),
            Map.entry("router_jitter_noise", F.numberNode(0.0)));

    private ConfigDefaults() {
    }

    /** The default of {@code key} for {@code family}; a NullNode when there is none. */
    static JsonNode of(Family family, String key) {
        return family.defaultValue(key).orElseGet(() -> COMMON.getOrDefault(key, F.nullNode()));
    }

    static Integer intOrNull(Family family, String key) {
        JsonNode n = of(family, key);
        return n.isNull() ? null : n.intValue();
    }

    static int intValue(Family family, String key) {
        JsonNode n = of(family, key);
        if (!n.isNumber()) {
            throw new IllegalStateException("no default for " + key + " in family " + family.name());
        }
        return n.intValue();
    }

    static double doubleValue(Family family, String key) {
        return of(family, key).doubleValue();
    }

    static boolean boolValue(Family family, String key) {
        return of(family, key).booleanValue();
    }

    static String text(Family family, String key) {
        return of(family, key).textValue();
    }
}
