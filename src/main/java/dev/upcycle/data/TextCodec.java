package dev.upcycle.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Text to token ids and back, for prompts and their continuations: a Hugging Face
 * {@code tokenizer.json} (as {@link TokenData#tokenizer} reads it, no special tokens added) or
 * bytes (id = byte value; ids above 255 cannot be bytes and decode as U+FFFD).
 */
public final class TextCodec implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final String description;

    private TextCodec(HuggingFaceTokenizer tokenizer, String description) {
        this.tokenizer = tokenizer;
        this.description = description;
    }

    /** One token per UTF-8 byte. */
    public static TextCodec bytes() {
        return new TextCodec(null, "bytes");
    }

    /**
     * @throws dev.upcycle.error.UpcycleException InvalidTokenizer when the file is not a loadable
     *         tokenizer, ImpossibleCombination when its ids exceed the model's {@code vocab}
     */
    public static TextCodec tokenizer(Path tokenizerJson, int vocab) {
        return new TextCodec(TokenData.loadTokenizer(tokenizerJson, vocab), "tokenizer " + tokenizerJson);
    }

    /** What the codec is, as eval names its tokenization ({@code bytes}, {@code tokenizer PATH}). */
    public String description() {
        return description;
    }

    public int[] encode(String text) {
        if (tokenizer == null) {
            return TokenData.byteIds(text.getBytes(StandardCharsets.UTF_8));
        }
        return Arrays.stream(tokenizer.encode(text).getIds()).mapToInt(Math::toIntExact).toArray();
    }

    /**
     * The text of {@code ids}; byte sequences that are not UTF-8 decode as U+FFFD. Special tokens
     * are kept (as transformers' decode does by default), so a continuation that ends at the
     * end-of-sequence token shows it, and text holding a special token's string round-trips.
     */
    public String decode(int[] ids) {
        if (tokenizer != null) {
            return tokenizer.decode(Arrays.stream(ids).asLongStream().toArray(), false);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id > 0xFF) {
                out.writeBytes("\uFFFD".getBytes(StandardCharsets.UTF_8));
            } else {
                out.write(id);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
    }
}
