package dev.upcycle.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.JsonErrors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code config.json} → {@link ModelConfig}: typed field reads that name the field on failure,
 * the two RoPE and dtype encodings, the family's MoE key names. Range and consistency checks
 * live in the records' constructors; this class re-labels their errors with the file name.
 */
final class ConfigParser {

    /** Config files are flat; 64 levels is far beyond any real one and stops parser bombs. */
    private static final int MAX_DEPTH = 64;

    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH)
                    .maxStringLength(1 << 20)
                    .maxNumberLength(100)
                    .build())
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final ObjectNode root;
    private final Family family;
    private final String where;

    private ConfigParser(ObjectNode root, Family family, String where) {
        this.root = root;
        this.family = family;
        this.where = where;
    }

    static ModelConfig read(Path file, FamilyRegistry families) {
        String where = file.toString();
        if (!Files.isRegularFile(file)) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "config.json is missing or not a regular file");
        }
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > ModelConfig.MAX_CONFIG_BYTES) {
                throw new UpcycleException(ErrorKind.InvalidConfig, where,
                        "file is " + size + " bytes; a config over " + ModelConfig.MAX_CONFIG_BYTES + " is refused");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, where, "cannot read: " + e.getMessage(), null, e);
        }
        return parse(bytes, families, where);
    }

    /** Parses {@code config.json} bytes; {@code where} names the file in errors. */
    static ModelConfig parse(byte[] bytes, FamilyRegistry families, String where) {
        if (bytes.length > ModelConfig.MAX_CONFIG_BYTES) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where,
                    "file is " + bytes.length + " bytes; a config over " + ModelConfig.MAX_CONFIG_BYTES + " is refused");
        }
        JsonNode tree;
        try {
            tree = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "not valid JSON: " + JsonErrors.describe(e),
                    null, e);
        } catch (IOException e) {
            // Reading a byte array does no I/O; anything else is a parser failure.
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "not valid JSON: " + e.getMessage(), null, e);
        }
        return parse(tree, families, where);
    }

    static ModelConfig parse(JsonNode tree, FamilyRegistry families, String where) {
        if (tree == null || !tree.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "config must be a JSON object");
        }
        Family family = families.forConfig(tree, where);
        ConfigParser p = new ConfigParser((ObjectNode) tree, family, where);
        try {
            return p.build();
        } catch (UpcycleException e) {
            if (!ConfigLimits.WHERE.equals(e.where())) {
                throw e;
            }
            // Record validation does not know the file name; add it.
            throw new UpcycleException(e.kind(), where, e.why(), e.hint(), e);
        }
    }

    private ModelConfig build() {
        checkPretrainingTp();
        int d = requiredInt("hidden_size");
        int h = requiredInt("num_attention_heads");
        Integer headDim = headDim(d, h);
        return new ModelConfig(family, architectures(), requiredInt("vocab_size"), d, requiredInt("intermediate_size"),
                requiredInt("num_hidden_layers"), h, optionalInt("num_key_value_heads", h), headDim,
                optionalText("hidden_act"), requiredDouble("rms_norm_eps"),
                optionalInt("max_position_embeddings", ConfigDefaults.intValue(family, "max_position_embeddings")),
                optionalBool("tie_word_embeddings"), familyBool("attention_bias"), familyBool("mlp_bias"),
                familyIntOrNull("sliding_window"), familyBool("use_sliding_window"),
                familyIntOrNull("max_window_layers"), intOrNull("bos_token_id"), eos(), intOrNull("pad_token_id"),
                optionalDouble("initializer_range"), optionalDouble("attention_dropout"), rope(), dtype(),
                family.moe() ? moe() : null, family.moa() ? moa() : null, SourceJson.of(root));
    }

    // ---- dense fields --------------------------------------------------------------------------

    private List<String> architectures() {
        List<String> out = new ArrayList<>();
        root.get("architectures").forEach(n -> {
            if (!n.isTextual()) {
                throw invalid("architectures entries must be strings");
            }
            out.add(n.textValue());
        });
        return out;
    }

    private Integer headDim(int d, int h) {
        JsonNode n = root.get("head_dim");
        if (n == null && family.defaultValue("head_dim").isPresent()) {
            return ConfigDefaults.intValue(family, "head_dim");
        }
        if (n == null || n.isNull()) {
            if (h <= 0 || d % h != 0) {
                throw invalid("hidden_size = " + d + " is not a multiple of num_attention_heads = " + h
                        + " and head_dim is not given");
            }
            return d / h;
        }
        return toInt("head_dim", n);
    }

    private List<Integer> eos() {
        JsonNode n = root.get("eos_token_id");
        if (n == null) {
            Integer d = ConfigDefaults.intOrNull(family, "eos_token_id");
            return d == null ? List.of() : List.of(d);
        }
        if (n.isNull()) {
            return List.of();
        }
        if (n.isArray()) {
            List<Integer> out = new ArrayList<>();
            n.forEach(e -> out.add(toInt("eos_token_id", e)));
            return out;
        }
        return List.of(toInt("eos_token_id", n));
    }

    /** {@code dtype} and {@code torch_dtype}, normalised; both present and different is a conflict. */
    private String dtype() {
        String modern = dtypeValue("dtype");
        String legacy = dtypeValue("torch_dtype");
        if (modern != null && legacy != null && !modern.equals(legacy)) {
            throw new UpcycleException(ErrorKind.ConfigConflict, where,
                    "dtype \"" + modern + "\" and torch_dtype \"" + legacy + "\" disagree");
        }
        return modern != null ? modern : legacy;
    }

    private String dtypeValue(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw invalid(key + " must be a string, found " + n.getNodeType());
        }
        String v = switch (n.textValue()) {
            case "float" -> "float32";
            case "half" -> "float16";
            default -> n.textValue();
        };
        if (!ModelConfig.DTYPES.contains(v)) {
            throw invalid(key + " = \"" + n.textValue() + "\" is not one of float32, float16, bfloat16, auto");
        }
        return v;
    }

    /**
     * Legacy ({@code rope_theta}, {@code rope_scaling}) and v5 ({@code rope_parameters}, which
     * holds {@code rope_theta}); docs/formats.md, "Config fields". When both are present they must agree.
     */
    private Rope rope() {
        boolean hasLegacy = root.has("rope_theta") || root.has("rope_scaling");
        JsonNode params = root.get("rope_parameters");
        double defaultTheta = ConfigDefaults.doubleValue(family, "rope_theta");
        double legacyTheta = root.has("rope_theta") ? toDouble("rope_theta", root.get("rope_theta")) : defaultTheta;
        Rope legacy = Rope.of(legacyTheta, root.get("rope_scaling"), where);
        if (params == null || params.isNull()) {
            return legacy;
        }
        if (!params.isObject()) {
            throw invalid("rope_parameters must be an object");
        }
        if (params.has("full_attention") || params.has("sliding_attention")) {
            throw invalid("per-layer-type rope_parameters are not supported by family " + family.name());
        }
        // v5 fills a missing rope_theta from the top level (or the class default).
        double theta = params.has("rope_theta") ? toDouble("rope_parameters.rope_theta", params.get("rope_theta"))
                : legacyTheta;
        Rope modern = Rope.of(theta, params, where);
        if (hasLegacy && !legacy.sameAs(modern)) {
            throw new UpcycleException(ErrorKind.ConfigConflict, where, "rope_theta/rope_scaling (theta "
                    + legacy.theta() + ", " + legacy.scaling() + ") and rope_parameters (theta " + modern.theta()
                    + ", " + modern.scaling() + ") disagree");
        }
        return modern;
    }

    private void checkPretrainingTp() {
        if (family.declares("pretraining_tp")) {
            int tp = optionalInt("pretraining_tp", 1);
            if (tp != 1) {
                throw invalid("pretraining_tp = " + tp + " is not supported (must be 1)");
            }
        }
    }

    // ---- MoE fields -----------------------------------------------------------------------------

    private MoeConfig moe() {
        ConfigKeys keys = family.keys();
        int experts = numExperts(keys);
        int width = keys.hasOwnExpertWidth()
                ? optionalInt(keys.expertWidth(), ConfigDefaults.intValue(family, keys.expertWidth()))
                : requiredInt(ModelConfig.INTERMEDIATE_SIZE);
        Integer shared = keys.sharedExpertWidth() == null ? null
                : optionalInt(keys.sharedExpertWidth(), ConfigDefaults.intValue(family, keys.sharedExpertWidth()));
        return new MoeConfig(experts, familyInt("num_experts_per_tok"), width, shared,
                familyBool(keys.normTopkProb()), familyInt("decoder_sparse_step"),
                family.sparseLayers() == SparseLayerRule.LISTED ? denseComplement("moe_layers") : mlpOnlyLayers(),
                familyDouble("router_aux_loss_coef"), familyBool("output_router_logits"),
                familyDouble("router_jitter_noise"));
    }

    /** The native family (docs/attention-experts.md, "The native checkpoint format")'s attention-expert fields. */
    private MoaConfig moa() {
        JsonNode perTok = root.get("attention_experts_per_tok");
        return new MoaConfig(MoaConfig.Variant.parse(optionalText("moa_variant")),
                requiredInt(family.keys().numAttentionExperts()),
                perTok == null || perTok.isNull() ? null : toInt("attention_experts_per_tok", perTok),
                layerList("moa_layers"), MoaConfig.BlockLayout.parse(optionalText("block_layout")),
                optionalInt("parallel_num_norms", 1), optionalDouble("attention_router_z_loss_coef"));
    }

    /** A list of layer indexes, or null when absent or JSON null ("every layer"). */
    private List<Integer> layerList(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isArray()) {
            throw invalid(key + " must be null or a list of integers, found " + n.getNodeType());
        }
        List<Integer> out = new ArrayList<>();
        n.forEach(e -> out.add(toInt(key, e)));
        return out;
    }

    /** The layers not in the list {@code key} (empty when it is null: every layer is listed). */
    private List<Integer> denseComplement(String key) {
        List<Integer> listed = layerList(key);
        List<Integer> out = new ArrayList<>();
        if (listed != null) {
            int layers = requiredInt("num_hidden_layers");
            for (int l = 0; l < layers; l++) {
                if (!listed.contains(l)) {
                    out.add(l);
                }
            }
        }
        return out;
    }

    /** The family's expert-count key and its read-only aliases (qwen3_moe: num_local_experts). */
    private int numExperts(ConfigKeys keys) {
        String foundKey = null;
        Integer found = null;
        List<String> candidates = new ArrayList<>();
        candidates.add(keys.numExperts());
        candidates.addAll(keys.numExpertsAliases());
        for (String key : candidates) {
            JsonNode n = root.get(key);
            if (n == null || n.isNull()) {
                continue;
            }
            int v = toInt(key, n);
            if (found != null && found != v) {
                throw new UpcycleException(ErrorKind.ConfigConflict, where,
                        foundKey + " = " + found + " and " + key + " = " + v + " disagree");
            }
            foundKey = key;
            found = v;
        }
        return found != null ? found : ConfigDefaults.intValue(family, keys.numExperts());
    }

    private List<Integer> mlpOnlyLayers() {
        JsonNode n = family.declares("mlp_only_layers") ? root.get("mlp_only_layers") : null;
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (!n.isArray()) {
            throw invalid("mlp_only_layers must be a list of integers, found " + n.getNodeType());
        }
        List<Integer> out = new ArrayList<>();
        n.forEach(e -> out.add(toInt("mlp_only_layers", e)));
        return out;
    }

    // ---- typed reads --------------------------------------------------------------------------

    /** Fields a family does not declare are not read (they stay in the raw object) and take the default. */
    private boolean familyBool(String key) {
        return family.declares(key) ? optionalBool(key) : ConfigDefaults.boolValue(family, key);
    }

    private int familyInt(String key) {
        return family.declares(key) ? optionalInt(key, ConfigDefaults.intValue(family, key))
                : ConfigDefaults.intValue(family, key);
    }

    private double familyDouble(String key) {
        return family.declares(key) ? optionalDouble(key) : ConfigDefaults.doubleValue(family, key);
    }

    private Integer familyIntOrNull(String key) {
        return family.declares(key) ? intOrNull(key) : ConfigDefaults.intOrNull(family, key);
    }

    private int requiredInt(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw invalid(key + " is required");
        }
        return toInt(key, n);
    }

    private int optionalInt(String key, int dflt) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? dflt : toInt(key, n);
    }

    /** Absent → the default; JSON null → null (a meaningful value for windows and token ids). */
    private Integer intOrNull(String key) {
        JsonNode n = root.get(key);
        if (n == null) {
            return ConfigDefaults.intOrNull(family, key);
        }
        return n.isNull() ? null : toInt(key, n);
    }

    private boolean optionalBool(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return ConfigDefaults.boolValue(family, key);
        }
        if (!n.isBoolean()) {
            throw invalid(key + " must be true or false, found " + brief(n));
        }
        return n.booleanValue();
    }

    private double requiredDouble(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw invalid(key + " is required");
        }
        return toDouble(key, n);
    }

    private double optionalDouble(String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? ConfigDefaults.doubleValue(family, key) : toDouble(key, n);
    }

    private String optionalText(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return ConfigDefaults.text(family, key);
        }
        if (!n.isTextual()) {
            throw invalid(key + " must be a string, found " + brief(n));
        }
        return n.textValue();
    }

    private int toInt(String key, JsonNode n) {
        if (!n.isIntegralNumber()) {
            throw invalid(key + " must be an integer, found " + brief(n));
        }
        if (!n.canConvertToInt()) {
            throw invalid(key + " = " + brief(n) + " is out of range");
        }
        return n.intValue();
    }

    private double toDouble(String key, JsonNode n) {
        if (!n.isNumber()) {
            throw invalid(key + " must be a number, found " + brief(n));
        }
        return n.doubleValue();
    }

    /** A value as it appears in the file, cut short: it may be hostile. */
    private static String brief(JsonNode n) {
        String s = n.isValueNode() ? n.toString() : n.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    private UpcycleException invalid(String why) {
        return new UpcycleException(ErrorKind.InvalidConfig, where, why);
    }
}
