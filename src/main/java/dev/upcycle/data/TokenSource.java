package dev.upcycle.data;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A data file and how to turn it into token ids, with {@code eval}'s rules: a {@code .bin} file is
 * already tokenized ({@code binDtype} or its name gives the width); a text file goes through the
 * tokenizer {@link TokenizerChoice} picks.
 *
 * @param tokenizer a Hugging Face tokenizer.json, or null
 * @param bytes     one token per byte
 * @param binDtype  width of a .bin file's ids, or null for the name's convention
 * @param slice     which contiguous part of the tokens to use, 0-based, below {@code slices}
 * @param slices    into how many equal contiguous parts the tokens are cut (1: all of them), so
 *                  branches of one model can each train on a different part of one corpus
 */
public record TokenSource(Path file, Path tokenizer, boolean bytes, TokenData.BinDtype binDtype, int slice,
                          int slices) {

    /** All of the file's tokens. */
    public TokenSource(Path file, Path tokenizer, boolean bytes, TokenData.BinDtype binDtype) {
        this(file, tokenizer, bytes, binDtype, 0, 1);
    }

    public TokenSource {
        if (slices < 1 || slice < 0 || slice >= slices) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--data-slice",
                    "slice " + (slice + 1) + " of " + slices + " does not exist");
        }
        if (file == null) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--data", "a data file is required");
        }
        TokenizerChoice.requireOneOf(tokenizer, bytes);
    }

    /** The ids (at most {@code limit}) and how they were made, checked against {@code vocab}. */
    public Tokens load(Path modelDir, int vocab, int limit) {
        if (!Files.isRegularFile(file)) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "no such file");
        }
        int[] ids;
        String how;
        if (TokenData.isBin(file)) {
            if (tokenizer != null || bytes) {
                throw new UpcycleException(ErrorKind.InvalidOption, file.toString(),
                        "a .bin file is already tokenized; drop --tokenizer/--bytes");
            }
            TokenData.BinDtype width = binDtype == null ? TokenData.BinDtype.byName(file) : binDtype;
            ids = TokenData.bin(file, width, limit);
            how = "bin-" + width.name().toLowerCase(Locale.ROOT);
        } else {
            TokenizerChoice choice = TokenizerChoice.resolve(tokenizer, bytes, modelDir, vocab);
            ids = choice.encode(file, limit);
            how = choice.description();
        }
        TokenData.requireInVocabulary(ids, vocab, file.toString());
        if (slices > 1) {
            int from = (int) ((long) ids.length * slice / slices);
            int to = (int) ((long) ids.length * (slice + 1) / slices);
            ids = java.util.Arrays.copyOfRange(ids, from, to);
            how = how + ", slice " + (slice + 1) + "/" + slices + " (tokens " + from + " to " + to + ")";
        }
        return new Tokens(ids, how);
    }

    /** Parses {@code I/N} (1-based: "2/3" is the second of three slices). */
    public static int[] parseSlice(String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,4})/(\\d{1,4})").matcher(text.strip());
        if (!m.matches() || Integer.parseInt(m.group(1)) < 1 || Integer.parseInt(m.group(1)) > Integer.parseInt(m.group(2))) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--data-slice",
                    "\"" + text + "\" is not I/N with 1 <= I <= N, e.g. 2/3 for the second third");
        }
        return new int[] {Integer.parseInt(m.group(1)) - 1, Integer.parseInt(m.group(2))};
    }

    /** Token ids and a description of the tokenization. */
    public record Tokens(int[] ids, String tokenization) {
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("file", file.toString());
        if (tokenizer != null) {
            o.put("tokenizer", tokenizer.toString());
        }
        o.put("bytes", bytes);
        if (slices > 1) {
            o.put("slice", (slice + 1) + "/" + slices);
        }
        if (binDtype != null) {
            o.put("bin_dtype", binDtype.name().toLowerCase(Locale.ROOT));
        }
        return o;
    }
}
