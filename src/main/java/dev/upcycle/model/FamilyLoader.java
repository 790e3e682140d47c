package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads family JSON files into {@link Family} records. Family files ship inside the jar, so a
 * malformed one is a bug: it fails with IllegalArgumentException, strictly (unknown keys too),
 * so that a typo in a data file cannot silently drop a tensor.
 */
final class FamilyLoader {

    private static final Set<String> FAMILY_KEYS = Set.of("name", "model_type", "architecture", "moe",
            "sparse_layers", "keys", "optional_fields", "defaults", "pre", "layer", "post");
    private static final Set<String> KEYS_KEYS = Set.of("num_experts", "num_experts_aliases", "expert_width",
            "shared_expert_width", "num_attention_experts", "norm_topk_prob");
    private static final Set<String> TEMPLATE_KEYS = Set.of("role", "name", "shape", "when", "experts");

    private final ObjectMapper mapper = new ObjectMapper();

    /** Reads one family file. */
    Family read(InputStream in, String source) {
        try {
            return parse(mapper.readTree(in), source);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read family file " + source, e);
        }
    }

    /** Reads a list of names from an index file ({@code {"families": [...]}}). */
    List<String> readIndex(InputStream in, String source) {
        try {
            List<String> names = new ArrayList<>();
            for (JsonNode n : required(mapper.readTree(in), "families", source)) {
                names.add(n.textValue());
            }
            return names;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read family index " + source, e);
        }
    }

    Family parse(JsonNode root, String source) {
        requireOnly(root, FAMILY_KEYS, source);
        String name = text(root, "name", source);
        boolean moe = required(root, "moe", source).asBoolean();
        ConfigKeys keys = moe ? keys(required(root, "keys", source), source) : ConfigKeys.DENSE;
        Set<String> optional = new LinkedHashSet<>();
        root.path("optional_fields").forEach(n -> optional.add(n.textValue()));
        Map<String, JsonNode> defaults = new LinkedHashMap<>();
        root.path("defaults").properties().forEach(e -> defaults.put(e.getKey(), e.getValue()));
        List<TensorTemplate> templates = new ArrayList<>();
        templates(required(root, "pre", source), TensorTemplate.Scope.PRE, templates, source);
        templates(required(root, "layer", source), TensorTemplate.Scope.LAYER, templates, source);
        templates(required(root, "post", source), TensorTemplate.Scope.POST, templates, source);
        return new Family(name, text(root, "model_type", source), text(root, "architecture", source), moe, keys,
                SparseLayerRule.parse(text(root, "sparse_layers", source)), optional, defaults, templates);
    }

    private static ConfigKeys keys(JsonNode node, String source) {
        requireOnly(node, KEYS_KEYS, source);
        List<String> aliases = new ArrayList<>();
        node.path("num_experts_aliases").forEach(n -> aliases.add(n.textValue()));
        return new ConfigKeys(text(node, "num_experts", source), aliases, text(node, "expert_width", source),
                node.path("shared_expert_width").textValue(), node.path("num_attention_experts").textValue(),
                node.path("norm_topk_prob").textValue());
    }

    private static void templates(JsonNode list, TensorTemplate.Scope section, List<TensorTemplate> out,
                                  String source) {
        for (JsonNode t : list) {
            requireOnly(t, TEMPLATE_KEYS, source);
            String pattern = text(t, "name", source);
            // Per-expert templates sit among the layer templates, in state-dict order.
            TensorTemplate.Scope scope = section == TensorTemplate.Scope.LAYER && pattern.contains("{X}")
                    ? TensorTemplate.Scope.EXPERT : section;
            List<Dim> shape = new ArrayList<>();
            required(t, "shape", source).forEach(d -> shape.add(Dim.parse(d.textValue())));
            out.add(new TensorTemplate(TensorRole.valueOf(text(t, "role", source)), scope, pattern, shape,
                    Condition.parse(text(t, "when", source)),
                    t.has("experts") ? Dim.parse(text(t, "experts", source)) : Dim.E));
        }
    }

    private static void requireOnly(JsonNode node, Set<String> allowed, String source) {
        if (!node.isObject()) {
            throw new IllegalArgumentException(source + ": expected an object, found " + node.getNodeType());
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw new IllegalArgumentException(source + ": unknown key \"" + k + "\"");
            }
        }
    }

    private static JsonNode required(JsonNode node, String key, String source) {
        JsonNode v = node.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException(source + ": missing \"" + key + "\"");
        }
        return v;
    }

    private static String text(JsonNode node, String key, String source) {
        JsonNode v = required(node, key, source);
        if (!v.isTextual()) {
            throw new IllegalArgumentException(source + ": \"" + key + "\" must be a string");
        }
        return v.textValue();
    }
}
