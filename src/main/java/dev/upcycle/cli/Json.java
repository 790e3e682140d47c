package dev.upcycle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.JsonFiles;

/**
 * The one JSON printer of the CLI, so every --json output has the same style as the files we write,
 * and the frame every document shares (docs/json.md): {@code schema_version} first, then
 * {@code ok}, true exactly when the command exits 0. Keys are snake_case.
 */
final class Json {
    /** Raised when a key is renamed or removed or its type changes; adding keys keeps it. */
    static final int SCHEMA_VERSION = 1;

    private Json() {
    }

    static String pretty(JsonNode node) {
        return JsonFiles.pretty(node);
    }

    /** A document with the shared frame and the fields of {@code body} after it. */
    static ObjectNode document(boolean ok, ObjectNode body) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("schema_version", SCHEMA_VERSION);
        o.put("ok", ok);
        body.properties().forEach(e -> {
            if (!e.getKey().equals("ok") && !e.getKey().equals("schema_version")) {
                o.set(e.getKey(), e.getValue());
            }
        });
        return o;
    }

    /** An empty document with the shared frame. */
    static ObjectNode document(boolean ok) {
        return document(ok, JsonNodeFactory.instance.objectNode());
    }
}
