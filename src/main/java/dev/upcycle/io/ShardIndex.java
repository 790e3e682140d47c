package dev.upcycle.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeSet;

/**
 * A parsed {@code model.safetensors.index.json} (docs/formats.md, "Sharded checkpoints"): which shard holds each
 * tensor. Shard names are checked to be plain file names; whether they exist is
 * {@link Checkpoint}'s business.
 *
 * @param file      the index file
 * @param weightMap tensor name to shard file name, in file order
 * @param totalSize {@code metadata.total_size} when present and an integer (only ever a warning)
 */
public record ShardIndex(Path file, Map<String, String> weightMap, OptionalLong totalSize) {
    /** Index files of real models are a few MB; more is hostile. */
    static final long MAX_INDEX_BYTES = 100_000_000L;

    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(HeaderParser.MAX_DEPTH)
                    .maxStringLength(HeaderParser.MAX_STRING)
                    .maxNameLength(HeaderParser.MAX_STRING)
                    .maxNumberLength(HeaderParser.MAX_NUMBER)
                    .build())
            .build());

    public ShardIndex {
        weightMap = Collections.unmodifiableMap(new LinkedHashMap<>(weightMap));
    }

    /** The distinct shard file names, sorted. */
    public List<String> shardNames() {
        return List.copyOf(new TreeSet<>(weightMap.values()));
    }

    /**
     * Reads and checks an index file.
     *
     * @throws UpcycleException InvalidIndex, UnsafePath, IoError
     */
    public static ShardIndex parse(Path file) {
        String where = file.toString();
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > MAX_INDEX_BYTES) {
                throw new UpcycleException(ErrorKind.InvalidIndex, where,
                        "index is " + size + " bytes, over the limit of " + MAX_INDEX_BYTES);
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, where, "cannot read: " + e, null, e);
        }
        return parse(bytes, file);
    }

    static ShardIndex parse(byte[] bytes, Path file) {
        String where = file.toString();
        JsonNode root;
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
            try (JsonParser p = JSON.createParser(text)) {
                root = JSON.readTree(p);
                if (p.nextToken() != null) {
                    throw new UpcycleException(ErrorKind.InvalidIndex, where, "trailing content after the JSON object");
                }
            }
        } catch (CharacterCodingException e) {
            throw new UpcycleException(ErrorKind.InvalidIndex, where, "index is not valid UTF-8");
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidIndex, where, "index is not valid JSON: " + JsonErrors.describe(e));
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.InvalidIndex, where, "index is not valid JSON: " + e);
        }
        if (root == null || !root.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidIndex, where, "index must be a JSON object");
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidIndex, where,
                    wm == null ? "index has no \"weight_map\"" : "\"weight_map\" must be an object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : wm.properties()) {
            String tensor = e.getKey();
            if (!e.getValue().isTextual()) {
                throw new UpcycleException(ErrorKind.InvalidIndex, TensorNames.where(where, tensor),
                        "weight_map value must be a shard file name (string), found " + e.getValue().getNodeType());
            }
            try {
                TensorNames.check(tensor, where);
            } catch (UpcycleException bad) {
                throw new UpcycleException(ErrorKind.InvalidIndex, where, "weight_map key: " + bad.why());
            }
            String shard = e.getValue().textValue();
            checkPlainFileName(shard, TensorNames.where(where, tensor));
            weightMap.put(tensor, shard);
        }
        OptionalLong total = OptionalLong.empty();
        JsonNode meta = root.get("metadata");
        if (meta != null && meta.isObject()) {
            JsonNode ts = meta.get("total_size");
            if (ts != null && ts.canConvertToExactIntegral() && ts.canConvertToLong()) {
                total = OptionalLong.of(ts.longValue());
            }
        }
        return new ShardIndex(file, weightMap, total);
    }

    /**
     * A shard must be a plain name in the index's directory: no separators, no {@code ..}, no
     * drive letters or streams ({@code :}), no NUL, not absolute, not empty.
     */
    static void checkPlainFileName(String name, String where) {
        String why = null;
        if (name.isEmpty()) {
            why = "shard name is empty";
        } else if (name.indexOf('/') >= 0 || name.indexOf('\\') >= 0) {
            why = "shard name \"" + name + "\" contains a path separator";
        } else if (name.contains("..")) {
            why = "shard name \"" + name + "\" contains \"..\"";
        } else if (name.indexOf(':') >= 0) {
            why = "shard name \"" + name + "\" contains ':' (drive letter or stream)";
        } else if (name.chars().anyMatch(Character::isISOControl)) {
            why = "shard name contains a control character or NUL";
        } else if (name.equals(".")) {
            why = "shard name is \".\"";
        }
        if (why != null) {
            throw new UpcycleException(ErrorKind.UnsafePath, where, why + "; shards must be plain file names");
        }
    }
}
