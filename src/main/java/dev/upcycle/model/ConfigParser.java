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
import java.util.function.Consumer;

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

    /**
     * Sets on a builder what the file gives, in a fixed order (the first bad field is the one
     * reported); {@link ModelConfig.Builder#build()} fills in the defaults. Fields a family does not
     * declare are not read: they stay in the raw object and take the default.
     */
    private ModelConfig build() {
        checkPretrainingTp();
        int d = requiredInt("hidden_size");
        int h = requiredInt("num_attention_heads");
        ModelConfig.Builder b = ModelConfig.builder(family).hiddenSize(d).numAttentionHeads(h);
        JsonNode headDim = root.get("head_dim");
        if (headDim != null && !headDim.isNull()) {
            b.headDim(toInt("head_dim", headDim));
        } else if (headDim != null || family.defaultValue("head_dim").isEmpty()) {
            b.headDim(ModelConfig.derivedHeadDim(d, h)); // an explicit null overrides a family default
        }
        b.architectures(architectures()).vocabSize(requiredInt("vocab_size"))
                .intermediateSize(requiredInt(ModelConfig.INTERMEDIATE_SIZE))
                .numHiddenLayers(requiredInt("num_hidden_layers"));
        ifSet(intValue("num_key_value_heads"), b::numKeyValueHeads);
        ifSet(text("hidden_act"), b::hiddenAct);
        b.rmsNormEps(requiredDouble("rms_norm_eps"));
        ifSet(intValue("max_position_embeddings"), b::maxPositionEmbeddings);
        ifSet(bool("tie_word_embeddings"), b::tieWordEmbeddings);
        ifSet(familyBool("attention_bias"), b::attentionBias);
        ifSet(familyBool("mlp_bias"), b::mlpBias);
        ifPresent(family.declares("sliding_window"), "sliding_window", b::slidingWindow);
        ifSet(familyBool("use_sliding_window"), b::useSlidingWindow);
        ifPresent(family.declares("max_window_layers"), "max_window_layers", b::maxWindowLayers);
        ifPresent(true, "bos_token_id", b::bosTokenId);
        ifSet(eos(), b::eosTokenIds);
        ifPresent(true, "pad_token_id", b::padTokenId);
        ifSet(doubleValue("initializer_range"), b::initializerRange);
        ifSet(doubleValue("attention_dropout"), b::attentionDropout);
        b.rope(rope()).dtype(dtype());
        if (family.moe()) {
            moe(b);
        }
        if (family.moa()) {
            b.moa(moa());
        }
        return b.source(SourceJson.of(root)).build();
    }

    private static <T> void ifSet(T value, Consumer<T> setter) {
        if (value != null) {
            setter.accept(value);
        }
    }

    /** A present key sets its value, JSON null included (no window, no token id); absent leaves the default. */
    private void ifPresent(boolean read, String key, Consumer<Integer> setter) {
        JsonNode n = read ? root.get(key) : null;
        if (n != null) {
            setter.accept(n.isNull() ? null : toInt(key, n));
        }
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

    /** Null when absent (the default applies); empty for JSON null. */
    private List<Integer> eos() {
        JsonNode n = root.get("eos_token_id");
        if (n == null) {
            return null;
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

    private void moe(ModelConfig.Builder b) {
        ConfigKeys keys = family.keys();
        ifSet(numExperts(keys), b::numExperts);
        if (keys.hasOwnExpertWidth()) {
            ifSet(intValue(keys.expertWidth()), b::expertWidth);
        }
        if (keys.sharedExpertWidth() != null) {
            ifSet(intValue(keys.sharedExpertWidth()), b::sharedExpertWidth);
        }
        ifSet(familyInt("num_experts_per_tok"), b::numExpertsPerTok);
        ifSet(familyBool(keys.normTopkProb()), b::normTopkProb);
        ifSet(familyInt("decoder_sparse_step"), b::decoderSparseStep);
        b.mlpOnlyLayers(family.sparseLayers() == SparseLayerRule.LISTED ? denseComplement("moe_layers")
                : mlpOnlyLayers());
        ifSet(familyDouble("router_aux_loss_coef"), b::routerAuxLossCoef);
        ifSet(familyBool("output_router_logits"), b::outputRouterLogits);
        ifSet(familyDouble("router_jitter_noise"), b::routerJitterNoise);
    }

    /** The native family (docs/attention-experts.md, "The native checkpoint format")'s attention-expert fields. */
    private MoaConfig moa() {
        JsonNode perTok = root.get("attention_experts_per_tok");
        return new MoaConfig(MoaConfig.Variant.parse(optionalText("moa_variant")),
                requiredInt(family.keys().numAttentionExperts()),
                perTok == null || perTok.isNull() ? null : toInt("attention_experts_per_tok", perTok),
                layerList("moa_layers"), MoaConfig.BlockLayout.parse(optionalText("block_layout")),
                optionalInt("parallel_num_norms", 1), optionalDouble("attention_router_z_loss_coef"),
                Boolean.TRUE.equals(bool("attention_qk_norm")));
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

    /** The family's expert-count key and its read-only aliases (qwen3_moe: num_local_experts); null when none is given. */
    private Integer numExperts(ConfigKeys keys) {
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
        return found;
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

    // ---- typed reads: null when absent or JSON null --------------------------------------------

    /** Keys a family does not declare are not read (they stay in the raw object). */
    private Boolean familyBool(String key) {
        return family.declares(key) ? bool(key) : null;
    }

    private Integer familyInt(String key) {
        return family.declares(key) ? intValue(key) : null;
    }

    private Double familyDouble(String key) {
        return family.declares(key) ? doubleValue(key) : null;
    }

    private Integer intValue(String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? null : toInt(key, n);
    }

    private Double doubleValue(String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? null : toDouble(key, n);
    }

    private Boolean bool(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isBoolean()) {
            throw invalid(key + " must be true or false, found " + brief(n));
        }
        return n.booleanValue();
    }

    private String text(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isTextual()) {
            throw invalid(key + " must be a string, found " + brief(n));
        }
        return n.textValue();
    }

    private int requiredInt(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw invalid(key + " is required");
        }
        return toInt(key, n);
    }

    private int optionalInt(String key, int dflt) {
        Integer v = intValue(key);
        return v != null ? v : dflt;
    }

    private double requiredDouble(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw invalid(key + " is required");
        }
        return toDouble(key, n);
    }

    private double optionalDouble(String key) {
        Double v = doubleValue(key);
        return v != null ? v : ConfigDefaults.doubleValue(family, key);
    }

    private String optionalText(String key) {
        String v = text(key);
        return v != null ? v : ConfigDefaults.text(family, key);
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
