package dev.upcycle.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token sources: a Hugging Face tokenizer.json through DJL's tokenizers (offline), bytes. */
class TokenDataTest {
    /** A word-level tokenizer.json in the Hugging Face format, small enough to check by hand. */
    static final String TOKENIZER_JSON = """
            {
              "version": "1.0",
              "truncation": null,
              "padding": null,
              "added_tokens": [{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false,
                                "rstrip": false, "normalized": false, "special": true}],
              "normalizer": null,
              "pre_tokenizer": {"type": "Whitespace"},
              "post_processor": null,
              "decoder": null,
              "model": {"type": "WordLevel",
                        "vocab": {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, ".": 6},
                        "unk_token": "[UNK]"}
            }
            """;

    @TempDir
    Path tmp;

    static Path tokenizer(Path dir) throws IOException {
        return Files.writeString(dir.resolve("tokenizer.json"), TOKENIZER_JSON);
    }

    @Test
    void huggingFaceTokenizerJson() throws IOException {
        Path text = Files.writeString(tmp.resolve("t.txt"), "the cat sat on the mat.\n\nthe dog sat.\n");
        int[] ids = TokenData.tokenizer(text, tokenizer(tmp), 7, Integer.MAX_VALUE);
        assertThat(ids).containsExactly(1, 2, 3, 4, 1, 5, 6, 1, 0, 3, 6);
        assertThat(TokenData.tokenizer(text, tokenizer(tmp), 7, 4)).containsExactly(1, 2, 3, 4);
    }

    @Test
    void longTextIsEncodedInPiecesWithTheSameResult() throws IOException {
        String paragraph = "the cat sat on the mat.\n\n";
        String body = paragraph.repeat(3 * TokenData.PIECE_CHARS / paragraph.length());
        Path text = Files.writeString(tmp.resolve("t.txt"), body);
        int[] ids = TokenData.tokenizer(text, tokenizer(tmp), 7, Integer.MAX_VALUE);
        assertThat(ids).hasSize(7 * (body.length() / paragraph.length()));
        for (int i = 0; i < ids.length; i++) {
            assertThat(ids[i]).isEqualTo(new int[] {1, 2, 3, 4, 1, 5, 6}[i % 7]);
        }
    }

    @Test
    void bytesAreTokens() throws IOException {
        Path text = Files.write(tmp.resolve("b.txt"), new byte[] {'a', (byte) 0xC2, (byte) 0xA3});
        assertThat(TokenData.bytes(text, 10)).containsExactly(97, 0xC2, 0xA3);
    }
}
