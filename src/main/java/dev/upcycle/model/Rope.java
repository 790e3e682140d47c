package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/**
 * Rotary position embedding settings, normalised from either encoding of formats.md 3.2
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
