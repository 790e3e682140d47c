package dev.upcycle.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.JsonErrors;
import dev.upcycle.io.ModelFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Prompts as token ids for a model, as mergekit-moe tokenizes its experts' prompts: the text
 * {@code bos_token + prompt}, no special tokens added, so the beginning-of-sequence token leads
 * where the tokenizer has one (docs/mergekit.md, "Routers from prompts").
 *
 * <p>The tokenizer is the model's own {@code tokenizer.json}, or one token per byte for a
 * byte-level model ({@link TokenizerChoice}). The BOS token is {@code tokenizer_config.json}'s
 * {@code bos_token} when that file names one (a {@code null} there means none, as for Qwen,
 * whatever config.json says), else config.json's {@code bos_token_id}, else none. A byte-level
 * model takes only config.json's id: a token string cannot be a byte.
 */
public final class PromptTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TextCodec codec;
    private final int vocab;
    private final String bosText;
    private final Integer bosId;

    private PromptTokenizer(TextCodec codec, int vocab, String bosText, Integer bosId) {
        this.codec = codec;
        this.vocab = vocab;
        this.bosText = bosText;
        this.bosId = bosId;
    }

    /**
     * The prompt tokenizer of the model in {@code modelDir}.
     *
     * @param vocab     the model's vocabulary size
     * @param configBos config.json's {@code bos_token_id}, or null
     * @throws UpcycleException as {@link TextCodec#tokenizer}; InvalidTokenizer when the model has
     *         no tokenizer.json and is not byte-level, when tokenizer_config.json is not JSON or its
     *         {@code bos_token} is not a token; ImpossibleCombination when the BOS id is outside the vocabulary
     */
    public static PromptTokenizer forModel(Path modelDir, int vocab, Integer configBos) {
        if (vocab != 256 && ModelFiles.of(modelDir).optional("tokenizer.json").isEmpty()) {
            // TokenizerChoice would point at eval's options; prompts have none.
            throw new UpcycleException(ErrorKind.InvalidTokenizer, modelDir.toString(), "no tokenizer.json to tokenize "
                    + "the prompts with, and a vocabulary of " + vocab + ", not 256 bytes",
                    "put the base model's tokenizer.json (and tokenizer_config.json) in its directory");
        }
        TokenizerChoice choice = TokenizerChoice.resolve(null, false, modelDir, vocab);
        Optional<JsonNode> declared = choice.isBytes() ? Optional.empty() : declaredBos(modelDir);
        String text = declared.filter(n -> !n.isNull()).map(n -> n.isTextual() ? n.asText() : n.path("content").asText())
                .orElse(null);
        Integer id = declared.isPresent() ? null : configBos;
        if (id != null) {
            TokenData.requireInVocabulary(new int[] {id}, vocab, modelDir.resolve("config.json") + ": bos_token_id");
        }
        TextCodec codec = choice.codec();
        return new PromptTokenizer(codec, vocab, text, id);
    }

    /**
     * {@code tokenizer_config.json}'s {@code bos_token} (a string, an added-token object, or null)
     * when the file exists and has the key; empty otherwise.
     */
    private static Optional<JsonNode> declaredBos(Path modelDir) {
        Optional<Path> file = ModelFiles.of(modelDir).optional("tokenizer_config.json");
        if (file.isEmpty()) {
            return Optional.empty();
        }
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file.get()));
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidTokenizer, file.get().toString(),
                    "not JSON: " + JsonErrors.describe(e));
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.get().toString(), "cannot read: " + e.getMessage());
        }
        if (root == null || !root.isObject() || !root.has("bos_token")) {
            return Optional.empty();
        }
        JsonNode bos = root.get("bos_token");
        boolean token = bos.isNull() || bos.isTextual() && !bos.asText().isEmpty()
                || bos.isObject() && bos.path("content").isTextual() && !bos.path("content").asText().isEmpty();
        if (!token) {
            throw new UpcycleException(ErrorKind.InvalidTokenizer, file.get().toString(),
                    "bos_token is neither a token string, an object with its \"content\", nor null");
        }
        return Optional.of(bos);
    }

    /** The BOS token put before every prompt: its text, {@code id N}, or {@code none}. */
    public String bos() {
        return bosText != null ? bosText : bosId != null ? "id " + bosId : "none";
    }

    /** How the text is tokenized: {@code bytes} or {@code tokenizer PATH}. */
    public String description() {
        return codec.description();
    }

    /**
     * The ids of one prompt.
     *
     * @param where the prompt, for messages (such as {@code experts[0].positive_prompts[1]})
     * @throws UpcycleException InvalidData when the prompt gives no token; ImpossibleCombination
     *         when an id is outside the model's vocabulary
     */
    public int[] encode(String prompt, String where) {
        if (prompt == null) {
            throw new UpcycleException(ErrorKind.InvalidData, where, "the prompt is not text");
        }
        int[] ids = codec.encode(bosText != null ? bosText + prompt : prompt);
        if (bosId != null) {
            int[] with = new int[ids.length + 1];
            with[0] = bosId;
            System.arraycopy(ids, 0, with, 1, ids.length);
            ids = with;
        }
        if (ids.length == 0) {
            throw new UpcycleException(ErrorKind.InvalidData, where, "the prompt gives no token",
                    "write a prompt with some text");
        }
        TokenData.requireInVocabulary(ids, vocab, where);
        return ids;
    }

    /**
     * The ids of each prompt, in order.
     *
     * @param where the list, for messages; prompt {@code i} is named {@code where[i]}
     * @throws UpcycleException InvalidData when there is no prompt, and as {@link #encode}
     */
    public List<int[]> encodeAll(List<String> prompts, String where) {
        if (prompts == null || prompts.isEmpty()) {
            throw new UpcycleException(ErrorKind.InvalidData, where, "no prompts", "give at least one prompt");
        }
        List<int[]> out = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            out.add(encode(prompts.get(i), where + "[" + i + "]"));
        }
        return out;
    }

    @Override
    public void close() {
        codec.close();
    }
}
