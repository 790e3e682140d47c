package dev.upcycle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.io.JsonFiles;

/** The one JSON printer of the CLI, so every --json output has the same style as the files we write. */
final class Json {
    private Json() {
    }

    static String pretty(JsonNode node) {
        return JsonFiles.pretty(node);
    }
}
