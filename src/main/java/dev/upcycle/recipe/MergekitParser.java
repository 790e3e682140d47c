package dev.upcycle.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.Suggestions;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a mergekit-moe configuration file (docs/mergekit.md) with the recipe reader's limits. Every
 * key mergekit-moe defines is read with mergekit's meaning; a key it does not define, or one this
 * project does not support, is refused with one line naming it (and the closest known key). This
 * project's own keys live under one {@code upcycle:} mapping, which mergekit ignores.
 */
public final class MergekitParser {
    static final List<String> TOP_LEVEL = List.of("base_model", "experts", "gate_mode", "dtype",
            "experts_per_token", "shared_experts", "architecture", "upcycle");
    static final List<String> EXPERT = List.of("source_model", "positive_prompts", "negative_prompts", "noise_scale",
            "residual_scale");
    static final List<String> ADDITIONS = List.of("seed", "routing", "max_shard_size", "allow_nonfinite", "scaling",
            "granularity", "attention", "attention_top_k", "attention_router_init", "shared_kv_init");
    private static final List<String> ATTENTION = List.of("moa-separate", "moa-shared-kv");
    private static final List<String> ATTENTION_ROUTER_INIT = List.of("random", "zero");
    /** convert's --scaling values (docs/method.md). */
    private static final List<String> SCALINGS = List.of("paper", "exact-balanced", "exact-down", "none");
    /** Keys of mergekit's other configuration format (mergekit-yaml), which mergekit-moe does not read. */
    private static final Set<String> MERGE_KEYS = Set.of("merge_method", "slices", "models", "parameters",
            "tokenizer_source", "tokenizer", "chat_template", "out_dtype");
    private static final Map<String, MergekitConfig.GateMode> GATE_MODES = Map.of(
            "hidden", MergekitConfig.GateMode.HIDDEN_LAST,
            "hidden_last", MergekitConfig.GateMode.HIDDEN_LAST,
            "hidden_avg", MergekitConfig.GateMode.HIDDEN_AVG,
            "cheap_embed", MergekitConfig.GateMode.CHEAP_EMBED,
            "random", MergekitConfig.GateMode.RANDOM,
            "uniform_random", MergekitConfig.GateMode.UNIFORM_RANDOM);
    private static final Map<String, String> DTYPES = Map.of("float32", "f32", "float16", "f16", "bfloat16", "bf16");

    private MergekitParser() {
    }

    /** Reads and checks {@code file}. */
    public static MergekitConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new UpcycleException(ErrorKind.InvalidRecipe, file.toString(), Files.exists(file)
                    ? "not a regular file; a mergekit-moe configuration is a YAML text file" : "no such file");
        }
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes((int) RecipeParser.MAX_BYTES + 1);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.InvalidRecipe, file.toString(), "cannot read: " + e.getMessage());
        }
        if (bytes.length > RecipeParser.MAX_BYTES) {
            throw error(file, "the file", "larger than 1 MiB; a mergekit-moe configuration is a small text file");
        }
        return parse(file, new String(bytes, StandardCharsets.UTF_8));
    }

    /** Parses configuration text; {@code file} names it in messages and in the result. */
    public static MergekitConfig parse(Path file, String text) {
        JsonNode root = RecipeParser.readYamlMap(file, text,
                "a mergekit-moe configuration is a map with base_model, experts and gate_mode");
        keys(file, root, "", TOP_LEVEL);
        String base = text(file, root, "base_model", true);
        JsonNode expertsNode = root.get("experts");
        if (expertsNode == null || !expertsNode.isArray() || expertsNode.isEmpty()) {
            throw error(file, "key 'experts'", "a non-empty list of experts, each with source_model");
        }
        List<MergekitConfig.Expert> experts = experts(file, expertsNode, "experts");
        List<MergekitConfig.Expert> shared = List.of();
        JsonNode sharedNode = root.get("shared_experts");
        if (sharedNode != null && !sharedNode.isNull()) {
            if (!sharedNode.isArray()) {
                throw error(file, "key 'shared_experts'", "must be a list of experts, each with source_model");
            }
            shared = experts(file, sharedNode, "shared_experts");
        }
        MergekitConfig.GateMode mode = gateMode(file, root);
        String dtype = dtype(file, root);
        int perToken = 2;
        JsonNode k = root.get("experts_per_token");
        if (k != null && !k.isNull()) {
            if (!k.isIntegralNumber() || k.asLong() < 1) {
                throw error(file, "key 'experts_per_token'", "must be a whole number >= 1, found " + k.asText());
            }
            if (k.asLong() > experts.size()) {
                throw error(file, "key 'experts_per_token'", k.asText() + " is more than the " + experts.size()
                        + " experts listed");
            }
            perToken = k.asInt();
        }
        String architecture = text(file, root, "architecture", false);
        MergekitConfig.Additions additions = additions(file, root.get("upcycle"));
        if (mode.fromPrompts()) {
            requirePrompts(file, experts, shared, mode);
        }
        return new MergekitConfig(file, text, base, experts, mode, dtype, perToken, shared, architecture, additions);
    }

    /** mergekit's own checks on prompts: every expert has positive prompts, and not all the same. */
    private static void requirePrompts(Path file, List<MergekitConfig.Expert> experts,
                                       List<MergekitConfig.Expert> shared, MergekitConfig.GateMode mode) {
        for (int i = 0; i < experts.size(); i++) {
            if (experts.get(i).positivePrompts().isEmpty()) {
                throw error(file, "key 'experts[" + i + "].positive_prompts'", "gate_mode " + mode.key()
                        + " computes each router row from the expert's prompts, and this expert has none");
            }
        }
        boolean sharedPrompts = shared.stream().anyMatch(e -> !e.positivePrompts().isEmpty());
        for (int i = 0; i < shared.size(); i++) {
            if (shared.get(i).positivePrompts().isEmpty() == sharedPrompts) {
                throw error(file, "key 'shared_experts[" + i + "].positive_prompts'", "gate_mode " + mode.key()
                        + " computes the shared expert's gate row from its prompts, and this shared expert has none");
            }
        }
        MergekitConfig.Expert first = experts.get(0);
        boolean allSame = experts.size() > 1 && experts.stream().allMatch(e ->
                e.positivePrompts().equals(first.positivePrompts()) && e.negativePrompts().equals(first.negativePrompts()));
        if (allSame) {
            throw error(file, "key 'experts'", "every expert has the same prompts, so every router row would be the "
                    + "same and the router could not tell the experts apart (mergekit refuses this too)");
        }
    }

    private static List<MergekitConfig.Expert> experts(Path file, JsonNode list, String key) {
        List<MergekitConfig.Expert> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = key + "[" + i + "]";
            JsonNode e = list.get(i);
            if (!e.isObject()) {
                throw error(file, "key '" + where + "'", "each expert is a map with source_model and its prompts");
            }
            keys(file, e, where + ".", EXPERT);
            String source = text(file, e, "source_model", true, where + ".");
            out.add(new MergekitConfig.Expert(source, prompts(file, e, "positive_prompts", where),
                    prompts(file, e, "negative_prompts", where), number(file, e, "noise_scale", where, true),
                    number(file, e, "residual_scale", where, false)));
        }
        return out;
    }

    private static List<String> prompts(Path file, JsonNode e, String key, String where) {
        JsonNode p = e.get(key);
        if (p == null || p.isNull()) {
            return List.of();
        }
        if (!p.isArray()) {
            throw error(file, "key '" + where + "." + key + "'", "must be a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode s : p) {
            if (!s.isTextual()) {
                throw error(file, "key '" + where + "." + key + "'", "must be a list of strings, found " + s.getNodeType()
                        .name().toLowerCase(Locale.ROOT) + " " + s);
            }
            out.add(s.asText());
        }
        return out;
    }

    private static Double number(Path file, JsonNode e, String key, String where, boolean nonNegative) {
        JsonNode n = e.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        String at = "key '" + where + "." + key + "'";
        if (!n.isNumber() || !Double.isFinite(n.asDouble())) {
            throw error(file, at, "must be a finite number, found " + n.asText());
        }
        if (nonNegative && n.asDouble() < 0) {
            throw error(file, at, "a standard deviation must be >= 0, found " + n.asText());
        }
        return n.asDouble();
    }

    private static MergekitConfig.GateMode gateMode(Path file, JsonNode root) {
        JsonNode g = root.get("gate_mode");
        if (g == null || g.isNull()) {
            return MergekitConfig.GateMode.HIDDEN_LAST; // mergekit's default
        }
        String v = g.asText();
        MergekitConfig.GateMode mode = g.isTextual() ? GATE_MODES.get(v) : null;
        if (mode == null) {
            List<String> known = List.of("hidden", "hidden_avg", "hidden_last", "cheap_embed", "random", "uniform_random");
            throw error(file, "key 'gate_mode'", "unknown value '" + v + "'; one of " + String.join(", ", known)
                    + Suggestions.didYouMean(v, known));
        }
        return mode;
    }

    private static String dtype(Path file, JsonNode root) {
        JsonNode d = root.get("dtype");
        if (d == null || d.isNull()) {
            return null;
        }
        String v = d.asText();
        String name = v.startsWith("torch.") ? v.substring("torch.".length()) : v;
        String ours = d.isTextual() ? DTYPES.get(name) : null;
        if (ours == null) {
            List<String> known = List.of("float32", "float16", "bfloat16");
            throw error(file, "key 'dtype'", "'" + v + "' is not an output dtype; one of " + String.join(", ", known)
                    + Suggestions.didYouMean(name, known));
        }
        return ours;
    }

    private static MergekitConfig.Additions additions(Path file, JsonNode u) {
        if (u == null || u.isNull()) {
            return MergekitConfig.Additions.NONE;
        }
        if (!u.isObject()) {
            throw error(file, "key 'upcycle'", "must be a map of this project's keys: " + String.join(", ", ADDITIONS));
        }
        keys(file, u, "upcycle.", ADDITIONS);
        Long seed = null;
        JsonNode s = u.get("seed");
        if (s != null && !s.isNull()) {
            if (!s.isIntegralNumber() || !s.canConvertToLong()) {
                throw error(file, "key 'upcycle.seed'", "must be a whole number, found " + s.asText());
            }
            seed = s.asLong();
        }
        String routing = text(file, u, "routing", false, "upcycle.");
        JsonNode size = u.get("max_shard_size");
        String maxShardSize = size == null || size.isNull() ? null : size.asText();
        if (size != null && size.isContainerNode()) {
            throw error(file, "key 'upcycle.max_shard_size'", "must be a size such as 5GB");
        }
        Boolean nonfinite = null;
        JsonNode nf = u.get("allow_nonfinite");
        if (nf != null && !nf.isNull()) {
            if (!nf.isBoolean()) {
                throw error(file, "key 'upcycle.allow_nonfinite'", "must be true or false, found " + nf.asText());
            }
            nonfinite = nf.asBoolean();
        }
        String scaling = choice(file, u, "scaling", SCALINGS);
        Integer granularity = positive(file, u, "granularity");
        String attention = choice(file, u, "attention", ATTENTION);
        Integer attentionTopK = positive(file, u, "attention_top_k");
        String attentionRouterInit = choice(file, u, "attention_router_init", ATTENTION_ROUTER_INIT);
        String sharedKvInit = text(file, u, "shared_kv_init", false, "upcycle.");
        if (sharedKvInit != null && !sharedKvInit.equals("mean") && !sharedKvInit.matches("seed:[0-9]{1,9}")) {
            throw error(file, "key 'upcycle.shared_kv_init'", "'" + sharedKvInit + "' is not mean or seed:X "
                    + "(X = 0 for the base model, then each further model in the order the file first names it)");
        }
        if (attention == null) {
            for (String key : List.of("attention_top_k", "attention_router_init", "shared_kv_init")) {
                if (u.hasNonNull(key)) {
                    throw error(file, "key 'upcycle." + key + "'", "applies to attention experts only; set "
                            + "upcycle.attention to moa-separate or moa-shared-kv");
                }
            }
        } else if (sharedKvInit != null && !attention.equals("moa-shared-kv")) {
            throw error(file, "key 'upcycle.shared_kv_init'", "applies to attention: moa-shared-kv only "
                    + "(moa-separate experts keep their own k and v)");
        }
        return new MergekitConfig.Additions(seed, routing, maxShardSize, nonfinite, scaling, granularity, attention,
                attentionTopK, attentionRouterInit, sharedKvInit);
    }

    /** A whole number >= 1 under {@code upcycle:}, or null when absent. */
    private static Integer positive(Path file, JsonNode u, String key) {
        JsonNode v = u.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1) {
            throw error(file, "key 'upcycle." + key + "'", "must be a whole number >= 1, found " + v.asText());
        }
        return v.asInt();
    }

    /** One of {@code known} under {@code upcycle:}, or null when absent. */
    private static String choice(Path file, JsonNode u, String key, List<String> known) {
        String v = text(file, u, key, false, "upcycle.");
        if (v != null && !known.contains(v)) {
            throw error(file, "key 'upcycle." + key + "'", "unknown value '" + v + "'; one of "
                    + String.join(", ", known) + Suggestions.didYouMean(v, known));
        }
        return v;
    }

    /** Refuses any key not in {@code allowed}, naming it with the closest allowed key. */
    private static void keys(Path file, JsonNode map, String prefix, List<String> allowed) {
        for (var it = map.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (allowed.contains(key)) {
                continue;
            }
            String why = prefix.isEmpty() && MERGE_KEYS.contains(key)
                    ? "is a key of mergekit's merge configuration (mergekit-yaml), not of mergekit-moe; "
                    + "this file is read as a mergekit-moe configuration"
                    : "is not a mergekit-moe key" + (prefix.startsWith("upcycle") ? " of the upcycle: mapping" : "")
                    + "; known: " + String.join(", ", allowed) + Suggestions.didYouMean(key, allowed);
            throw error(file, "key '" + prefix + key + "'", why);
        }
    }

    private static String text(Path file, JsonNode node, String key, boolean required) {
        return text(file, node, key, required, "");
    }

    private static String text(Path file, JsonNode node, String key, boolean required, String prefix) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            if (required) {
                throw error(file, "key '" + prefix + key + "'", "is required");
            }
            return null;
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            throw error(file, "key '" + prefix + key + "'", "must be a non-empty string, found " + v);
        }
        return v.asText();
    }

    static UpcycleException error(Path file, String where, String why) {
        return RecipeParser.error(file, where, why);
    }
}
