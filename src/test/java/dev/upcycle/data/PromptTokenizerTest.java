package dev.upcycle.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prompts tokenized as mergekit-moe does ({@code bos_token + prompt}, no special tokens added),
 * with the real Llama 3 tokenizer (a BOS token) and Qwen3's (none, whatever config.json says),
 * byte-level models, and the one-line refusals.
 */
class PromptTokenizerTest {
    static final String PROMPT = "Write a proof that there are infinitely many primes.";

    @TempDir
    Path tmp;

    /** A model directory holding {@code real}'s tokenizer.json and, when asked, its tokenizer_config.json. */
    private Path modelWith(RealTokenizers real, String name, boolean config) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        Path json = real.tokenizerJson();
        Files.copy(json, dir.resolve("tokenizer.json"));
        if (config) {
            Files.copy(json.resolveSibling("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        }
        return dir;
    }

    /** Each text's ids from the tokenizer alone (one load). */
    private static List<int[]> plain(RealTokenizers real, String... texts) {
        try (TextCodec codec = TextCodec.tokenizer(real.tokenizerJson(), real.ids())) {
            return Arrays.stream(texts).map(codec::encode).toList();
        }
    }

    @Test
    void llama3PromptsLeadWithTheBeginOfTextToken() throws IOException {
        Path dir = modelWith(RealTokenizers.LLAMA3, "llama3", true);
        int[] text = plain(RealTokenizers.LLAMA3, PROMPT).get(0);
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, RealTokenizers.LLAMA3.ids(), 128_000)) {
            assertThat(t.bos()).isEqualTo("<|begin_of_text|>");
            int[] ids = t.encode(PROMPT, "p");
            assertThat(ids[0]).isEqualTo(128_000);
            assertThat(ids).hasSize(text.length + 1);
            assertThat(Arrays.copyOfRange(ids, 1, ids.length)).isEqualTo(text);
            // An empty prompt is the BOS token alone, as mergekit tokenizes it.
            assertThat(t.encode("", "p")).containsExactly(128_000);
        }
    }

    @Test
    void qwen3HasNoBosTokenEvenWhenConfigJsonNamesAnId() throws IOException {
        Path dir = modelWith(RealTokenizers.QWEN3, "qwen3", true);
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, RealTokenizers.QWEN3.ids(), 151_643)) {
            assertThat(t.bos()).isEqualTo("none");
            assertThat(t.encodeAll(List.of(PROMPT, "Hi"), "experts[0].positive_prompts"))
                    .containsExactlyElementsOf(plain(RealTokenizers.QWEN3, PROMPT, "Hi"));
        }
    }

    @Test
    void withoutTokenizerConfigConfigJsonsBosIdLeads() throws IOException {
        Path dir = modelWith(RealTokenizers.LLAMA3, "llama3-bare", false);
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, RealTokenizers.LLAMA3.ids(), 128_000)) {
            assertThat(t.bos()).isEqualTo("id 128000");
            assertThat(t.encode("Hello", "p")).containsExactly(128_000, 9906);
        }
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, RealTokenizers.LLAMA3.ids(), null)) {
            assertThat(t.bos()).isEqualTo("none");
            assertThat(t.encode("Hello", "p")).containsExactly(9906);
        }
    }

    @Test
    void anAddedTokenObjectAsBosTokenIsItsContent() throws IOException {
        Path dir = modelWith(RealTokenizers.LLAMA3, "llama3-object", false);
        Files.writeString(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<|begin_of_text|>\", \"special\": true}}");
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, RealTokenizers.LLAMA3.ids(), null)) {
            assertThat(t.encode("Hello", "p")).containsExactly(128_000, 9906);
        }
    }

    @Test
    void byteLevelModelsTakeBytesAndConfigJsonsBosId() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bytes"));
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, 256, 1)) {
            assertThat(t.description()).isEqualTo("bytes");
            assertThat(t.encode("hé", "p")).containsExactly(1, 'h', 0xC3, 0xA9);
        }
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, 256, null)) {
            assertThat(t.encode("hi", "p")).containsExactly('h', 'i');
        }
    }

    @Test
    void noPromptsAndAnEmptyPromptAreBadInputNamingIt() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bytes"));
        try (PromptTokenizer t = PromptTokenizer.forModel(dir, 256, null)) {
            assertThatThrownBy(() -> t.encodeAll(List.of(), "experts[2].positive_prompts"))
                    .isInstanceOfSatisfying(UpcycleException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ErrorKind.InvalidData);
                        assertThat(e.exitCode().code()).isEqualTo(3);
                        assertThat(e.line()).isEqualTo("InvalidData : experts[2].positive_prompts : no prompts");
                    });
            assertThatThrownBy(() -> t.encodeAll(List.of("ok", ""), "experts[0].negative_prompts"))
                    .isInstanceOfSatisfying(UpcycleException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ErrorKind.InvalidData);
                        assertThat(e.where()).isEqualTo("experts[0].negative_prompts[1]");
                        assertThat(e.why()).isEqualTo("the prompt gives no token");
                    });
        }
    }

    @Test
    void idsOutsideTheVocabularyAreRefused() throws IOException {
        Path bytes = Files.createDirectories(tmp.resolve("bytes"));
        assertThatThrownBy(() -> PromptTokenizer.forModel(bytes, 256, 256))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.where()).endsWith("bos_token_id");
                    assertThat(e.why()).contains("token id 256", "vocabulary of 256");
                });
        Path llama = modelWith(RealTokenizers.LLAMA3, "llama3-small", true);
        assertThatThrownBy(() -> PromptTokenizer.forModel(llama, 1000, null))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination));
    }

    @Test
    void aModelWithoutTokenizerJsonThatIsNotByteLevelIsRefused() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("no-tokenizer"));
        assertThatThrownBy(() -> PromptTokenizer.forModel(dir, 1000, null))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidTokenizer);
                    assertThat(e.exitCode().code()).isEqualTo(3);
                    assertThat(e.why()).contains("no tokenizer.json", "1000");
                    assertThat(e.hint()).doesNotContain("--");
                });
    }

    @Test
    void aBosTokenThatIsNotATokenIsAnInvalidTokenizer() throws IOException {
        Path dir = modelWith(RealTokenizers.QWEN3, "qwen3-bad", false);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": 7}");
        assertThatThrownBy(() -> PromptTokenizer.forModel(dir, RealTokenizers.QWEN3.ids(), null))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidTokenizer);
                    assertThat(e.where()).endsWith("tokenizer_config.json");
                });
    }
}
