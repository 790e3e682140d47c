package dev.upcycle.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The JSON style of every file and report this tool writes: two-space indent, {@code "key": value}
 * and one array element per line, as Python's {@code json.dumps(indent=2)} writes config.json.
 * Line ends are always LF so outputs are byte-identical on every platform.
 */
public final class JsonFiles {
    private static final ObjectWriter WRITER;

    static {
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                .withObjectIndenter(indenter)
                .withArrayIndenter(indenter);
        WRITER = new ObjectMapper().writer(printer);
    }

    private JsonFiles() {
    }

    /** The pretty text of {@code node}, without a trailing newline. */
    public static String pretty(JsonNode node) {
        try {
            return WRITER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a JSON tree", e);
        }
    }

    /** Writes {@code node} plus a newline to {@code file} atomically (temporary name, fsync, rename). */
    public static void write(Path file, JsonNode node) {
        CheckpointWriter.writeAtomically(file, (pretty(node) + "\n").getBytes(StandardCharsets.UTF_8));
    }
}
