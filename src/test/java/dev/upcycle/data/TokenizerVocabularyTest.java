package dev.upcycle.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The id range of a tokenizer.json, and the refusal of one that does not fit the model. */
class TokenizerVocabularyTest {
    @TempDir
    Path tmp;

    private Path write(String json) throws IOException {
        return Files.writeString(tmp.resolve("tokenizer.json"), json);
    }

    @Test
    void modelVocabularyAndAddedTokensBothCount() throws IOException {
        assertThat(TokenizerVocabulary.size(TokenDataTest.tokenizer(tmp))).isEqualTo(7);
        String withAdded = TokenDataTest.TOKENIZER_JSON.replace("\"added_tokens\": [",
                "\"added_tokens\": [{\"id\": 300, \"content\": \"<|x|>\", \"special\": true}, ");
        assertThat(TokenizerVocabulary.size(write(withAdded))).isEqualTo(301);
    }

    @Test
    void unigramVocabularyIsAListWhoseIndexIsTheId() throws IOException {
        Path t = write("""
                {"added_tokens": [], "model": {"type": "Unigram", "unk_id": 0,
                 "vocab": [["<unk>", 0.0], ["a", -1.5], ["b", -2.0], ["ab", -2.5]]}}
                """);
        assertThat(TokenizerVocabulary.size(t)).isEqualTo(4);
    }

    @Test
    void aTokenizerWithMoreIdsThanTheModelIsRefusedNamingBothSizes() throws IOException {
        Path t = TokenDataTest.tokenizer(tmp);
        TokenizerVocabulary.requireFits(t, 7);
        assertThatThrownBy(() -> TokenizerVocabulary.requireFits(t, 6))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.kind().exitCode().code()).isEqualTo(3);
                    assertThat(e.getMessage()).contains("7 token ids").contains("vocab_size is 6");
                });
        // The same check guards every load, before any text is encoded.
        Path text = Files.writeString(tmp.resolve("t.txt"), "the cat");
        assertThatThrownBy(() -> TokenData.tokenizer(text, t, 6, 100)).isInstanceOf(UpcycleException.class)
                .hasMessageContaining("vocab_size is 6");
        assertThatThrownBy(() -> TextCodec.tokenizer(t, 6)).isInstanceOf(UpcycleException.class)
                .hasMessageContaining("vocab_size is 6");
    }

    @Test
    void malformedTokenizersAreOneLineErrors() throws IOException {
        for (String bad : new String[] {"[]", "{\"model\": {\"vocab\": {\"a\": -1}}}", "{\"added_tokens\": [{\"id\": \"x\"}]}",
            "{\"model\": {\"vocab\": {\"a\": 99999999999}}}", "{\"model\": "}) {
            Path t = write(bad);
            assertThatThrownBy(() -> TokenizerVocabulary.size(t)).as(bad)
                    .isInstanceOfSatisfying(UpcycleException.class,
                            e -> assertThat(e.kind()).isEqualTo(ErrorKind.InvalidTokenizer));
        }
    }
}
