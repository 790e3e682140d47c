package dev.upcycle.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Token ids for eval and train, from one of three sources:
 * <ul>
 *   <li>{@link #bytes}: a text file, one token per byte (id = byte value), the tokenizer of the
 *       shipped tiny model;</li>
 *   <li>{@link #tokenizer}: a text file through a Hugging Face {@code tokenizer.json} (DJL's
 *       tokenizers package, native library bundled, offline), without special tokens; the text is
 *       encoded in pieces of about {@value #PIECE_CHARS} characters cut after a blank line, so
 *       memory stays bounded (a token never spans a paragraph break in practice);</li>
 *   <li>{@link #bin}: pre-tokenized ids, little-endian uint16 or uint32 (see {@link BinDtype}).</li>
 * </ul>
 */
public final class TokenData {
    static final int PIECE_CHARS = 1 << 16;

    private TokenData() {
    }

    /** Width of the ids in a pre-tokenized {@code .bin} file. */
    public enum BinDtype {
        U16, U32;

        /** {@code *.u32.bin} is uint32; any other {@code .bin} uint16 (nanoGPT's convention). */
        public static BinDtype byName(Path file) {
            return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".u32.bin") ? U32 : U16;
        }
    }

    /** Whether {@code file} is a pre-tokenized {@code .bin} file (by its extension). */
    public static boolean isBin(Path file) {
        return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".bin");
    }

    /** Each byte of the file is a token; at most {@code limit} ids are read. */
    public static int[] bytes(Path file, int limit) {
        return byteIds(readPrefix(file, limit));
    }

    /** One id per byte: its unsigned value. */
    static int[] byteIds(byte[] raw) {
        int[] ids = new int[raw.length];
        for (int i = 0; i < raw.length; i++) {
            ids[i] = raw[i] & 0xFF;
        }
        return ids;
    }

    /** Little-endian ids of width {@code dtype}; at most {@code limit} are read. */
    public static int[] bin(Path file, BinDtype dtype, int limit) {
        int width = dtype == BinDtype.U16 ? 2 : 4;
        long size = size(file);
        if (size % width != 0) {
            throw new UpcycleException(ErrorKind.InvalidData, file.toString(), size + " bytes is not a whole number of "
                    + dtype.name().toLowerCase(Locale.ROOT) + " ids", "name uint32 files *.u32.bin, or pass --bin-dtype");
        }
        long count = Math.min(size / width, limit);
        ByteBuffer b = ByteBuffer.wrap(readPrefix(file, (int) Math.min(Integer.MAX_VALUE - 16, count * width)))
                .order(ByteOrder.LITTLE_ENDIAN);
        int[] ids = new int[(int) count];
        for (int i = 0; i < ids.length; i++) {
            long v = width == 2 ? Short.toUnsignedInt(b.getShort()) : Integer.toUnsignedLong(b.getInt());
            if (v > Integer.MAX_VALUE) {
                throw new UpcycleException(ErrorKind.InvalidData, file.toString(), "id " + v + " at position " + i
                        + " is not a plausible token id");
            }
            ids[i] = (int) v;
        }
        return ids;
    }

    /**
     * The text of {@code file} through {@code tokenizerJson}, which must fit a model of
     * {@code vocab} tokens (checked before the text is read); at most {@code limit} ids are kept.
     */
    public static int[] tokenizer(Path file, Path tokenizerJson, int vocab, int limit) {
        try (HuggingFaceTokenizer tok = loadTokenizer(tokenizerJson, vocab)) {
            String text = utf8(file);
            int[] ids = new int[1024];
            int n = 0;
            int at = 0;
            while (at < text.length() && n < limit) {
                int end = pieceEnd(text, at);
                for (long id : tok.encode(text.substring(at, end)).getIds()) {
                    if (n == ids.length) {
                        ids = Arrays.copyOf(ids, ids.length * 2);
                    }
                    ids[n++] = (int) id;
                }
                at = end;
            }
            return Arrays.copyOf(ids, Math.min(n, limit));
        }
    }

    /**
     * Refuses an id outside {@code [0, vocab)}: one the model's embedding does not have.
     *
     * @param where the file or option the ids came from, for the message
     */
    public static void requireInVocabulary(int[] ids, int vocab, String where) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, where, "token id " + ids[i]
                        + " at position " + i + " is outside the model's vocabulary of " + vocab,
                        "use the model's own tokenizer");
            }
        }
    }

    /** The file as text; bytes that are not UTF-8 are bad input (exit 3), named by their offset. */
    static String utf8(Path file) {
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage());
        }
        ByteBuffer in = ByteBuffer.wrap(raw);
        CharBuffer out = CharBuffer.allocate(raw.length);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        CoderResult r = decoder.decode(in, out, true);
        if (r.isError()) {
            throw new UpcycleException(ErrorKind.InvalidData, file.toString(), String.format(Locale.ROOT,
                    "not UTF-8 text: byte 0x%02X at offset %d", raw[in.position()] & 0xFF, in.position()),
                    "a tokenizer reads UTF-8 text; pass --bytes, or give pre-tokenized ids in a .bin file");
        }
        decoder.flush(out);
        return out.flip().toString();
    }

    /**
     * {@code tokenizerJson} as eval, train and sample use it: no special tokens added, no
     * truncation, no padding; refused first when its ids do not fit a model of {@code vocab} tokens.
     */
    static HuggingFaceTokenizer loadTokenizer(Path tokenizerJson, int vocab) {
        DjlNative.offline();
        TokenizerVocabulary.requireFits(tokenizerJson, vocab);
        try {
            return HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optAddSpecialTokens(false)
                    .optTruncation(false).optPadding(false).build();
        } catch (IOException | RuntimeException e) {
            UpcycleException unpack = DjlNative.unpackFailure(e, "tokenizers");
            if (unpack != null) {
                throw unpack;
            }
            throw new UpcycleException(ErrorKind.InvalidTokenizer, tokenizerJson.toString(),
                    "cannot load the tokenizer: " + e.getMessage(), "pass a Hugging Face tokenizer.json");
        }
    }

    /** Cut after a blank line near {@link #PIECE_CHARS}, or at the end. */
    private static int pieceEnd(String text, int from) {
        if (text.length() - from <= PIECE_CHARS) {
            return text.length();
        }
        int cut = text.indexOf("\n\n", from + PIECE_CHARS / 2);
        if (cut < 0 || cut > from + 2 * PIECE_CHARS) {
            int nl = text.indexOf('\n', from + PIECE_CHARS);
            return nl < 0 ? text.length() : nl + 1;
        }
        return cut + 2;
    }

    private static byte[] readPrefix(Path file, int limit) {
        try (InputStream in = Files.newInputStream(file)) {
            return in.readNBytes(limit);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage());
        }
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage());
        }
    }
}
