package dev.upcycle.model;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The {@code config.json} object a config was read from, kept so that fields this tool does
 * not model can be carried over. It is provenance, not meaning: two configs that describe the
 * same model are equal whatever their source text, so every SourceJson equals every other.
 */
public final class SourceJson {

    private final ObjectNode json;

    private SourceJson(ObjectNode json) {
        this.json = json;
    }

    /** A private copy of {@code json}; null means an empty object (a config built in code). */
    public static SourceJson of(ObjectNode json) {
        return new SourceJson(json == null ? JsonNodeFactory.instance.objectNode() : json.deepCopy());
    }

    /** A copy of the source object. */
    public ObjectNode json() {
        return json.deepCopy();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SourceJson;
    }

    @Override
    public int hashCode() {
        return 0;
    }

    @Override
    public String toString() {
        return "SourceJson(" + json.size() + " fields)";
    }
}
