package dev.upcycle.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CoderResult;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Strict parser and validator of a safetensors header (docs/formats.md, "The safetensors container" and "Rejected inputs", items
 * 1-19). The JSON is read twice: a syntax pass first (so that parser bombs, bad JSON and
 * trailing garbage are always {@code InvalidHeaderJson}, whatever they contain), then a
 * pass that checks the shape of every entry. Duplicate keys are detected here at the token
 * level because the reference parser silently keeps the last one.
 */
final class HeaderParser {
    /** The reference loader's limit (100 MB, decimal). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final int MAX_DEPTH = 64;
    /**
     * Tensors per file. Real checkpoints hold at most about 10^5 tensors in all their shards; a
     * 100 MB header could otherwise declare about 1.6 million, whose headers alone would exhaust
     * a 256 MiB heap.
     */
    static final int MAX_TENSORS = 500_000;
    static final int MAX_STRING = 64 * 1024;
    /** Long enough for any u64 and a sign; longer numbers can only be hostile. */
    static final int MAX_NUMBER = 40;

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH)
                    .maxStringLength(MAX_STRING)
                    .maxNameLength(MAX_STRING)
                    .maxNumberLength(MAX_NUMBER)
                    .maxDocumentLength(MAX_HEADER_BYTES)
                    .build())
            .build();

    static final String METADATA_KEY = "__metadata__";

    /** A validated header: metadata in file order, tensors sorted by offsets. */
    record Parsed(Map<String, String> metadata, List<TensorHeader> tensors) {
    }

    private HeaderParser() {
    }

    /**
     * Checks the declared header length against the real file length, before anything is
     * allocated for it.
     *
     * @param n          the 8-byte prefix read as an unsigned little-endian number (a
     *                   negative long means it is above 2^63-1)
     * @param fileLength the real length of the file
     */
    static void checkLength(long n, long fileLength, String where) {
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new UpcycleException(ErrorKind.HeaderTooLarge, where,
                    "header length N = " + Long.toUnsignedString(n) + " exceeds the limit of "
                            + MAX_HEADER_BYTES + " bytes");
        }
        if (8 + n > fileLength) {
            throw new UpcycleException(ErrorKind.InvalidHeaderLength, where,
                    "header length N = " + n + " but the file has only " + fileLength
                            + " bytes (8 + N = " + (8 + n) + ")");
        }
    }

    /**
     * Parses and validates the header.
     *
     * @param header     the N header bytes
     * @param fileLength total file length, to check that the data exactly fills the file
     * @param where      the file, for messages
     */
    static Parsed parse(byte[] header, long fileLength, String where) {
        long n = header.length;
        checkLength(n, fileLength, where);
        // The header is checked and parsed as bytes: decoding a 100 MB header to a String
        // would need three times that in heap (docs/formats.md, "Rejected inputs": no huge allocation).
        checkUtf8(header, where);
        checkOuterWhitespace(header, where);
        syntaxPass(header, where);
        Parsed parsed = structurePass(header, where);
        List<TensorHeader> sorted = validateOffsets(parsed.tensors(), n, fileLength, where);
        return new Parsed(parsed.metadata(), sorted);
    }

    /** Validates UTF-8 in bounded chunks, without materialising the text. */
    private static void checkUtf8(byte[] header, String where) {
        // REPORT rejects overlong forms and encoded surrogates, which String(byte[]) would
        // silently replace.
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(header);
        CharBuffer out = CharBuffer.allocate(8192);
        while (true) {
            CoderResult r = decoder.decode(in, out, true);
            if (r.isError()) {
                throw new UpcycleException(ErrorKind.InvalidHeaderUtf8, where,
                        "header is not valid UTF-8 (" + r + " at byte " + in.position() + ")");
            }
            out.clear();
            if (r.isUnderflow()) {
                break;
            }
        }
        CoderResult r = decoder.flush(out);
        if (r.isError()) {
            throw new UpcycleException(ErrorKind.InvalidHeaderUtf8, where, "header is not valid UTF-8 (" + r + ")");
        }
    }

    private static boolean isJsonSpace(byte c) {
        return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D;
    }

    private static String describeByte(byte b) {
        return b >= 0 ? String.format("U+%04X", (int) b) : String.format("byte 0x%02X", b & 0xff);
    }

    /** Only JSON whitespace may surround the object: no BOM, no NUL padding. */
    private static void checkOuterWhitespace(byte[] text, String where) {
        int i = 0;
        while (i < text.length && isJsonSpace(text[i])) {
            i++;
        }
        if (i == text.length) {
            throw new UpcycleException(ErrorKind.InvalidHeaderJson, where, "header is empty or only whitespace");
        }
        if (text[i] != '{') {
            throw new UpcycleException(ErrorKind.InvalidHeaderJson, where,
                    "header must be a JSON object starting with '{' (after optional whitespace), found "
                            + describeByte(text[i]) + " at byte " + i);
        }
        int j = text.length - 1;
        while (isJsonSpace(text[j])) {
            j--;
        }
        if (text[j] != '}') {
            throw new UpcycleException(ErrorKind.InvalidHeaderJson, where,
                    "header must end with '}' followed only by whitespace, found " + describeByte(text[j])
                            + " at byte " + j);
        }
    }

    /**
     * A streaming character view of the (already validated) UTF-8 bytes. Jackson's char-based
     * parser is used rather than its byte-based one because the latter rejects a lone surrogate
     * escape in a name as bad JSON before {@link TensorNames} can name it InvalidTensorName.
     */
    private static java.io.Reader reader(byte[] text) {
        return new java.io.InputStreamReader(new java.io.ByteArrayInputStream(text), StandardCharsets.UTF_8);
    }

    /** Walks every token once so syntax errors and limits are reported before any meaning. */
    private static void syntaxPass(byte[] text, String where) {
        try (JsonParser p = JSON.createParser(reader(text))) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new UpcycleException(ErrorKind.InvalidHeaderJson, where, "header is not a JSON object");
            }
            int depth = 1;
            while (depth > 0) {
                t = p.nextToken();
                if (t == null) {
                    throw new UpcycleException(ErrorKind.InvalidHeaderJson, where, "header JSON ends early");
                }
                switch (t) {
                    case START_OBJECT, START_ARRAY -> depth++;
                    case END_OBJECT, END_ARRAY -> depth--;
                    // getText forces the parser to materialise (and so length-check) strings
                    // that it would otherwise skip lazily.
                    case VALUE_STRING -> p.getText();
                    default -> {
                    }
                }
            }
            if (p.nextToken() != null) {
                throw new UpcycleException(ErrorKind.InvalidHeaderJson, where,
                        "trailing content after the header object");
            }
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidHeaderJson, where,
                    "header is not valid JSON: " + JsonErrors.describe(e));
        } catch (IOException e) {
            // Parsing from a String does no I/O; anything here is a parser failure.
            throw new UpcycleException(ErrorKind.InvalidHeaderJson, where, "header is not valid JSON: " + e);
        }
    }

    private static Parsed structurePass(byte[] text, String where) {
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, TensorHeader> tensors = new LinkedHashMap<>();
        boolean sawMetadata = false;
        try (JsonParser p = JSON.createParser(reader(text))) {
            p.nextToken(); // START_OBJECT, checked by the syntax pass
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (METADATA_KEY.equals(name)) {
                    if (sawMetadata) {
                        throw new UpcycleException(ErrorKind.DuplicateTensorName, where,
                                "key \"__metadata__\" appears twice in the header");
                    }
                    sawMetadata = true;
                    readMetadata(p, metadata, where);
                    continue;
                }
                String tw = TensorNames.where(where, name);
                TensorNames.check(name, where);
                if (tensors.containsKey(name)) {
                    throw new UpcycleException(ErrorKind.DuplicateTensorName, tw,
                            "tensor name appears twice in the header");
                }
                if (tensors.size() >= MAX_TENSORS) {
                    throw new UpcycleException(ErrorKind.HeaderTooLarge, where,
                            "the header declares more than " + MAX_TENSORS + " tensors");
                }
                tensors.put(name, readTensor(p, name, tw));
            }
        } catch (IOException e) {
            // Already syntax-checked; cannot happen short of a parser bug.
            throw new UpcycleException(ErrorKind.InvalidHeaderJson, where, "header is not valid JSON: " + e);
        }
        return new Parsed(Collections.unmodifiableMap(metadata), new ArrayList<>(tensors.values()));
    }

    private static void readMetadata(JsonParser p, Map<String, String> metadata, String where) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new UpcycleException(ErrorKind.InvalidMetadata, where,
                    "\"__metadata__\" must be an object of string -> string, found " + describe(p.currentToken()));
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            JsonToken v = p.nextToken();
            if (v != JsonToken.VALUE_STRING) {
                throw new UpcycleException(ErrorKind.InvalidMetadata, where,
                        "\"__metadata__\" value for key \"" + key + "\" must be a string, found " + describe(v));
            }
            String value = p.getText();
            if (!TensorNames.wellFormedUtf16(key) || !TensorNames.wellFormedUtf16(value)) {
                throw new UpcycleException(ErrorKind.InvalidMetadata, where,
                        "\"__metadata__\" entry \"" + key + "\" contains a lone surrogate escape");
            }
            if (metadata.putIfAbsent(key, value) != null) {
                throw new UpcycleException(ErrorKind.InvalidMetadata, where,
                        "\"__metadata__\" key \"" + key + "\" appears twice");
            }
        }
    }

    private static TensorHeader readTensor(JsonParser p, String name, String tw) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                    "tensor entry must be an object with dtype, shape, data_offsets; found " + describe(p.currentToken()));
        }
        DType dtype = null;
        long[] shape = null;
        long[] offsets = null;
        Set<String> seen = new HashSet<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            if (!seen.add(key)) {
                throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw, "key \"" + key + "\" appears twice");
            }
            JsonToken v = p.nextToken();
            switch (key) {
                case "dtype" -> {
                    if (v != JsonToken.VALUE_STRING) {
                        throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                                "dtype must be a string, found " + describe(v));
                    }
                    dtype = DType.parse(p.getText(), tw);
                }
                case "shape" -> shape = readU64Array(p, "shape", tw);
                case "data_offsets" -> {
                    offsets = readU64Array(p, "data_offsets", tw);
                    if (offsets.length != 2) {
                        throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                                "data_offsets must be exactly two integers [BEGIN, END], found " + offsets.length);
                    }
                }
                default -> throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                        "unknown key \"" + key + "\" in tensor entry (allowed: dtype, shape, data_offsets)");
            }
        }
        if (dtype == null || shape == null || offsets == null) {
            String missing = dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets";
            throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw, "tensor entry has no \"" + missing + "\"");
        }
        return new TensorHeader(name, dtype, new Shape(shape), offsets[0], offsets[1]);
    }

    /** An array of integers in [0, 2^63-1]: no signs, fractions, exponents or big numbers. */
    private static long[] readU64Array(JsonParser p, String what, String tw) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                    what + " must be an array of non-negative integers, found " + describe(p.currentToken()));
        }
        List<Long> values = new ArrayList<>();
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                        what + " entries must be non-negative integers, found " + describe(t)
                                + (t == JsonToken.VALUE_NUMBER_FLOAT ? " " + p.getText() : ""));
            }
            String digits = p.getText();
            if (digits.startsWith("-")) {
                throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                        what + " entries must be non-negative, found " + digits);
            }
            if (p.getNumberType() != JsonParser.NumberType.INT && p.getNumberType() != JsonParser.NumberType.LONG) {
                throw new UpcycleException(ErrorKind.InvalidTensorInfo, tw,
                        what + " entry " + digits + " is larger than 2^63-1");
            }
            values.add(p.getLongValue());
        }
        long[] out = new long[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    private static String describe(JsonToken t) {
        if (t == null) {
            return "nothing";
        }
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a fractional number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.toString();
        };
    }

    /**
     * The reference walk (docs/formats.md, "The safetensors container"): sort by (BEGIN, END), require contiguous
     * ranges from 0, sizes matching shapes, and data ending exactly at the end of the file.
     */
    private static List<TensorHeader> validateOffsets(List<TensorHeader> tensors, long n, long fileLength,
                                                      String where) {
        List<TensorHeader> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingLong(TensorHeader::begin).thenComparingLong(TensorHeader::end));
        long expected = 0;
        for (TensorHeader t : sorted) {
            String tw = TensorNames.where(where, t.name());
            if (t.begin() != expected) {
                throw new UpcycleException(ErrorKind.InvalidOffset, tw, "data_offsets [" + t.begin() + ", " + t.end()
                        + "] should begin at " + expected
                        + (t.begin() < expected ? " (overlaps the previous tensor)" : " (leaves a gap)"));
            }
            if (t.end() < t.begin()) {
                throw new UpcycleException(ErrorKind.InvalidOffset, tw,
                        "data_offsets [" + t.begin() + ", " + t.end() + "] end before they begin");
            }
            long bytes = t.shape().byteSize(t.dtype(), tw);
            if (t.end() - t.begin() != bytes) {
                throw new UpcycleException(ErrorKind.TensorInvalidInfo, tw, "data_offsets [" + t.begin() + ", "
                        + t.end() + "] span " + (t.end() - t.begin()) + " bytes but " + t.dtype() + " "
                        + t.shape() + " needs " + bytes);
            }
            expected = t.end();
        }
        // 8 + n + expected cannot overflow: n <= 1e8 and expected is checked against the file
        // length through subtraction.
        long dataLength = fileLength - 8 - n;
        if (expected != dataLength) {
            throw new UpcycleException(ErrorKind.MetadataIncompleteBuffer, where, "tensors cover " + expected
                    + " data bytes but the file has " + dataLength + " after the header ("
                    + (expected > dataLength ? "offsets run past the end of the file" : "trailing bytes") + ")");
        }
        return Collections.unmodifiableList(sorted);
    }
}
