package dev.upcycle.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.JsonErrors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How many ids a Hugging Face {@code tokenizer.json} can produce: one more than its largest id
 * over the model's vocabulary ({@code model.vocab}, an object of token to id for BPE, WordPiece
 * and WordLevel, a list of pieces for Unigram) and its {@code added_tokens}. Eval, train and
 * sample compare it with the model's {@code vocab_size} when they load a tokenizer, so a
 * tokenizer that can emit ids the embedding does not have is refused before any text is
 * encoded or any weight is read, instead of failing at whichever token happens to be too large.
 * The file is streamed: a 10 MB tokenizer is never held as a tree.
 */
public final class TokenizerVocabulary {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    private TokenizerVocabulary() {
    }

    /** Refuses {@code tokenizerJson} (ImpossibleCombination, exit 3) when it has more ids than {@code modelVocab}. */
    public static void requireFits(Path tokenizerJson, int modelVocab) {
        int size = size(tokenizerJson);
        if (size > modelVocab) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, tokenizerJson.toString(),
                    "the tokenizer has " + size + " token ids (model vocabulary and added tokens) but the model's "
                            + "vocab_size is " + modelVocab,
                    "use the model's own tokenizer, or a model whose vocabulary covers this one");
        }
    }

    /** One more than the largest id in {@code tokenizerJson}; 0 when it has none. */
    public static int size(Path tokenizerJson) {
        try (InputStream in = Files.newInputStream(tokenizerJson); JsonParser p = JSON.createParser(in)) {
            long max = -1;
            expect(p, p.nextToken() == JsonToken.START_OBJECT, "not a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if ("model".equals(field) && value == JsonToken.START_OBJECT) {
                    max = Math.max(max, modelVocab(p));
                } else if ("added_tokens".equals(field) && value == JsonToken.START_ARRAY) {
                    max = Math.max(max, addedTokens(p));
                } else {
                    p.skipChildren();
                }
            }
            expect(p, max < Integer.MAX_VALUE, "token id " + max + " is not a plausible id");
            return (int) (max + 1);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidTokenizer, tokenizerJson.toString(),
                    "not a tokenizer: " + JsonErrors.describe(e), "pass a Hugging Face tokenizer.json");
        } catch (Malformed e) {
            throw new UpcycleException(ErrorKind.InvalidTokenizer, tokenizerJson.toString(),
                    "not a tokenizer: " + e.getMessage(), "pass a Hugging Face tokenizer.json");
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, tokenizerJson.toString(), "cannot read: " + e.getMessage());
        }
    }

    /** Largest id of {@code model.vocab}; the parser is on the model object's start and ends on its end. */
    private static long modelVocab(JsonParser p) throws IOException {
        long max = -1;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (!"vocab".equals(field)) {
                p.skipChildren();
            } else if (value == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    max = Math.max(max, id(p, p.nextToken()));
                }
            } else if (value == JsonToken.START_ARRAY) {
                long n = 0;                        // Unigram: the id is the position in the list
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    p.skipChildren();
                    n++;
                }
                max = Math.max(max, n - 1);
            } else {
                p.skipChildren();
            }
        }
        return max;
    }

    /** Largest {@code id} of the {@code added_tokens} array; the parser is on its start and ends on its end. */
    private static long addedTokens(JsonParser p) throws IOException {
        long max = -1;
        while (p.nextToken() == JsonToken.START_OBJECT) {
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if ("id".equals(field)) {
                    max = Math.max(max, id(p, value));
                } else {
                    p.skipChildren();
                }
            }
        }
        return max;
    }

    private static long id(JsonParser p, JsonToken value) throws IOException {
        expect(p, value == JsonToken.VALUE_NUMBER_INT && p.getLongValue() >= 0,
                "a token id is not a non-negative integer (near \"" + p.currentName() + "\")");
        return p.getLongValue();
    }

    private static void expect(JsonParser p, boolean ok, String why) throws IOException {
        if (!ok) {
            throw new Malformed(why);
        }
    }

    /** Valid JSON that is not a tokenizer's: bad input, not an I/O failure. */
    private static final class Malformed extends IOException {
        Malformed(String why) {
            super(why);
        }
    }
}
