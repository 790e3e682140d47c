package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.List;

/**
 * Rotary position embedding settings, normalised from either encoding of the config (docs/formats.md, "Config fields")
 * (legacy {@code rope_theta} + {@code rope_scaling}, or v5 {@code rope_parameters}).
 *
 * @param theta   the base frequency ({@code rope_theta})
 * @param scaling null for plain RoPE; otherwise the scaling object with its type under
 *                {@code rope_type} (never the legacy {@code type}) and without {@code rope_theta},
 *                e.g. {@code {"rope_type":"llama3","factor":8.0,...}}. Copied in and out: the
 *                record is immutable.
 */
public record Rope(double theta, ObjectNode scaling) {

    public static final String DEFAULT_TYPE = "default";

    public Rope {
        ConfigLimits.require(Double.isFinite(theta) && theta > 0, "rope_theta = " + theta + " must be > 0");
        if (scaling != null) {
            scaling = scaling.deepCopy();
            ConfigLimits.require(scaling.path("rope_type").isTextual(),
                    "rope scaling must name its rope_type, found " + scaling);
            ConfigLimits.require(!scaling.has("type") && !scaling.has("rope_theta"),
                    "rope scaling must be normalised (no \"type\", no \"rope_theta\"): use Rope.of");
            checkValues(scaling);
        }
    }

    /**
     * The numbers a scaling type divides by or compares: present where its type needs them (as
     * transformers requires), finite and positive. A factor of 0 or below would give NaN or
     * negative frequencies, and a model that runs but computes nonsense.
     */
    private static void checkValues(ObjectNode s) {
        String type = s.get("rope_type").textValue();
        List<String> required = switch (type) {
            case "linear", "dynamic", "yarn" -> List.of("factor");
            case "llama3" -> List.of("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings");
            default -> List.of();
        };
        for (String key : required) {
            ConfigLimits.require(s.has(key) && !s.get(key).isNull(),
                    "rope_scaling of type " + type + " needs \"" + key + "\"");
        }
        for (String key : List.of("factor", "low_freq_factor", "high_freq_factor", "attention_factor")) {
            JsonNode v = s.get(key);
            if (v != null && !v.isNull()) {
                ConfigLimits.require(v.isNumber() && Double.isFinite(v.asDouble()) && v.asDouble() > 0,
                        "rope_scaling " + key + " = " + v + " must be a finite number > 0");
            }
        }
        JsonNode context = s.get("original_max_position_embeddings");
        if (context != null) {
            ConfigLimits.require(context.isIntegralNumber() && context.canConvertToInt() && context.asInt() > 0,
                    "rope_scaling original_max_position_embeddings = " + context + " must be an integer > 0");
        }
        if (type.equals("llama3")) {
            double low = s.get("low_freq_factor").asDouble();
            double high = s.get("high_freq_factor").asDouble();
            ConfigLimits.require(high > low, "rope_scaling high_freq_factor = " + high
                    + " must be greater than low_freq_factor = " + low);
        }
    }

    /** Plain RoPE with base {@code theta}. */
    public static Rope plain(double theta) {
        return new Rope(theta, null);
    }

    /**
     * Normalises a scaling object as found in a file: {@code type} becomes {@code rope_type}
     * (conflicting values are a ConfigConflict), {@code rope_theta} inside it is dropped (the
     * caller has read it), and {@code {"rope_type":"default"}} alone means plain RoPE.
     *
     * @param scaling null, a JSON null, or an object
     */
    public static Rope of(double theta, JsonNode scaling, String where) {
        if (scaling == null || scaling.isNull()) {
            return plain(theta);
        }
        if (!scaling.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "rope scaling must be an object or null");
        }
        ObjectNode s = ((ObjectNode) scaling).deepCopy();
        s.remove("rope_theta");
        JsonNode legacy = s.remove("type");
        if (legacy != null) {
            JsonNode modern = s.get("rope_type");
            if (modern != null && !JsonValues.same(modern, legacy)) {
                throw new UpcycleException(ErrorKind.ConfigConflict, where,
                        "rope type " + legacy + " and rope_type " + modern + " disagree");
            }
            s.set("rope_type", legacy);
        }
        if (!s.path("rope_type").isTextual()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "rope scaling lacks a rope_type string");
        }
        boolean plain = s.size() == 1 && DEFAULT_TYPE.equals(s.get("rope_type").textValue());
        return new Rope(theta, plain ? null : s);
    }

    @Override
    public ObjectNode scaling() {
        return scaling == null ? null : scaling.deepCopy();
    }

    /** {@code rope_type}: {@code default}, {@code llama3}, {@code linear}, {@code yarn}, ... */
    public String type() {
        return scaling == null ? DEFAULT_TYPE : scaling.get("rope_type").textValue();
    }

    /** Equal theta and equal scaling values (numbers compared by value, so 8 equals 8.0). */
    public boolean sameAs(Rope other) {
        return Double.compare(theta, other.theta) == 0
                && (scaling == null ? other.scaling == null
                : other.scaling != null && JsonValues.same(scaling, other.scaling));
    }
}
