package dev.upcycle.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The {@code upcycle.json} written into every output directory: which tool and options made it,
 * the inputs with their SHA-256, and every output file with size and SHA-256 (docs/formats.md, "upcycle.json";
 * convert). Deterministic: no timestamps, files sorted by path, so equal runs give equal bytes.
 *
 * @param options the full option set, as JSON
 * @param plan    a summary of what was done, or null
 */
public record Provenance(String version, String command, JsonNode options, List<FileDigest> inputs,
                         List<FileDigest> outputs, JsonNode plan) {

    public static final String FILE_NAME = "upcycle.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    public Provenance {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /** Digests every regular file under {@code dir} except upcycle.json, sorted by relative path. */
    public static List<FileDigest> digestAll(Path dir) {
        return digestAll(dir, List.of());
    }

    /**
     * As {@link #digestAll(Path)}, taking the digest of a file from {@code known} (same relative
     * path and size, e.g. computed while it was written) instead of reading it again.
     */
    public static List<FileDigest> digestAll(Path dir, java.util.Collection<FileDigest> known) {
        java.util.Map<String, FileDigest> byPath = new java.util.HashMap<>();
        for (FileDigest d : known) {
            byPath.put(d.path(), d);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            List<Path> list = files.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    .filter(p -> !dir.relativize(p).toString().equals(FILE_NAME))
                    .sorted()
                    .toList();
            List<FileDigest> out = new ArrayList<>(list.size());
            for (Path p : list) {
                FileDigest d = byPath.get(dir.relativize(p).toString().replace('\\', '/'));
                out.add(d != null && d.size() == Files.size(p) ? d : FileDigest.of(dir, p));
            }
            out.sort(java.util.Comparator.comparing(FileDigest::path));
            return out;
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, dir.toString(), "cannot list files: " + e.getMessage());
        }
    }

    /** The JSON document. */
    public ObjectNode toJson() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("tool", "upcycle");
        root.put("version", version);
        root.put("command", command);
        root.set("options", options == null ? JsonNodeFactory.instance.objectNode() : options);
        root.set("inputs", files(inputs));
        root.set("outputs", files(outputs));
        if (plan != null) {
            root.set("plan", plan);
        }
        return root;
    }

    /** Writes {@code dir/upcycle.json}. */
    public void write(Path dir) {
        JsonFiles.write(dir.resolve(FILE_NAME), toJson());
    }

    /** Reads {@code dir/upcycle.json}, under the link rule of {@link ModelFiles}; a malformed one is bad input. */
    public static Provenance read(Path dir) {
        Path file = ModelFiles.of(dir).file(FILE_NAME, ErrorKind.InvalidConfig);
        JsonNode root;
        try {
            if (Files.size(file) > 64L << 20) {
                throw new UpcycleException(ErrorKind.InvalidConfig, file.toString(), "larger than 64 MiB");
            }
            root = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidConfig, file.toString(),
                    "not valid JSON: " + JsonErrors.describe(e));
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, file.toString(), "not a JSON object");
        }
        return new Provenance(root.path("version").asText(""), root.path("command").asText(""),
                root.get("options"), parseFiles(root.get("inputs"), file), parseFiles(root.get("outputs"), file),
                root.get("plan"));
    }

    private static ArrayNode files(List<FileDigest> list) {
        ArrayNode arr = JsonNodeFactory.instance.arrayNode();
        for (FileDigest f : list) {
            ObjectNode o = arr.addObject();
            o.put("path", f.path());
            o.put("size", f.size());
            o.put("sha256", f.sha256());
        }
        return arr;
    }

    private static List<FileDigest> parseFiles(JsonNode arr, Path file) {
        List<FileDigest> out = new ArrayList<>();
        if (arr == null || arr.isNull()) {
            return out;
        }
        if (!arr.isArray()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, file.toString(), "file list is not an array");
        }
        for (JsonNode f : arr) {
            if (!f.path("path").isTextual() || !f.path("size").canConvertToLong() || !f.path("sha256").isTextual()) {
                throw new UpcycleException(ErrorKind.InvalidConfig, file.toString(),
                        "file entry needs path, size and sha256: " + f);
            }
            out.add(new FileDigest(f.get("path").asText(), f.get("size").asLong(), f.get("sha256").asText()));
        }
        return out;
    }
}
