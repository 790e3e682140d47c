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

/** The one tokenizer rule of eval, train and sample: which tokenizer each combination gives. */
class TokenizerChoiceTest {
    @TempDir
    Path tmp;

    private Path model(boolean ownTokenizer) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(ownTokenizer ? "with" : "without"));
        if (ownTokenizer) {
            TokenDataTest.tokenizer(dir);
        }
        return dir;
    }

    private Path userTokenizer() throws IOException {
        return TokenDataTest.tokenizer(Files.createDirectories(tmp.resolve("user")));
    }

    @Test
    void anExplicitTokenizerWinsOverTheModelsOwn() throws IOException {
        Path user = userTokenizer();
        TokenizerChoice c = TokenizerChoice.resolve(user, false, model(true), 7);
        assertThat(c.tokenizerJson()).isEqualTo(user);
        assertThat(c.description()).isEqualTo("tokenizer " + user);
        Path text = Files.writeString(tmp.resolve("t.txt"), "the cat sat");
        assertThat(c.encode(text, 100)).containsExactly(1, 2, 3);
        try (TextCodec codec = c.codec()) {
            assertThat(codec.encode("on the mat")).containsExactly(4, 1, 5);
            assertThat(codec.description()).isEqualTo(c.description());
        }
    }

    @Test
    void bytesWinOverTheModelsOwnTokenizerAtAnyVocabulary() throws IOException {
        TokenizerChoice c = TokenizerChoice.resolve(null, true, model(true), 1000);
        assertThat(c.isBytes()).isTrue();
        assertThat(c.description()).isEqualTo("bytes");
        Path text = Files.writeString(tmp.resolve("t.txt"), "ab");
        assertThat(c.encode(text, 100)).containsExactly('a', 'b');
        try (TextCodec codec = c.codec()) {
            assertThat(codec.encode("é")).containsExactly(0xC3, 0xA9);
        }
    }

    @Test
    void theModelsOwnTokenizerJsonIsTheDefault() throws IOException {
        Path dir = model(true);
        TokenizerChoice c = TokenizerChoice.resolve(null, false, dir, 7);
        assertThat(c.tokenizerJson()).isEqualTo(dir.resolve("tokenizer.json"));
        // Even a byte-sized vocabulary takes the model's own tokenizer when it has one.
        assertThat(TokenizerChoice.resolve(null, false, dir, 256).isBytes()).isFalse();
    }

    @Test
    void withoutAnyTokenizerOnlyAByteVocabularyFallsBackToBytes() throws IOException {
        Path dir = model(false);
        assertThat(TokenizerChoice.resolve(null, false, dir, 256).isBytes()).isTrue();
        assertThatThrownBy(() -> TokenizerChoice.resolve(null, false, dir, 300))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidOption);
                    assertThat(e.where()).isEqualTo(dir.toString());
                    assertThat(e.why()).isEqualTo("no tokenizer: the model has no tokenizer.json and a vocabulary "
                            + "of 300, not 256 bytes");
                    assertThat(e.hint()).isEqualTo("pass --tokenizer FILE or --bytes");
                });
    }

    @Test
    void aTokenizerWhoseIdsExceedTheVocabularyIsRefusedBeforeAnyTextIsEncoded() throws IOException {
        TokenizerChoice c = TokenizerChoice.resolve(null, false, model(true), 6);
        Path missingText = tmp.resolve("never-read.txt");
        for (Runnable use : new Runnable[] {() -> c.codec().close(), () -> c.encode(missingText, 100)}) {
            assertThatThrownBy(use::run).isInstanceOfSatisfying(UpcycleException.class, e -> {
                assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                assertThat(e.why()).contains("7 token ids").contains("vocab_size is 6");
            });
        }
    }

    @Test
    void bothOrAMissingExplicitTokenizerAreRefused() throws IOException {
        Path user = userTokenizer();
        assertThatThrownBy(() -> TokenizerChoice.resolve(user, true, model(true), 7))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidOption);
                    assertThat(e.where()).isEqualTo("--tokenizer");
                });
        Path missing = tmp.resolve("nope.json");
        assertThatThrownBy(() -> TokenizerChoice.resolve(missing, false, model(true), 7))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.IoError);
                    assertThat(e.where()).isEqualTo(missing.toString());
                    assertThat(e.why()).isEqualTo("no such file");
                });
    }
}
