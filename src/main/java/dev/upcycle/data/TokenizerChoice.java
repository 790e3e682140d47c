package dev.upcycle.data;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.ModelFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Which tokenizer turns text into ids for a model, by the one rule eval, train and sample share:
 * {@code --tokenizer FILE}, else the model's own {@code tokenizer.json} unless {@code --bytes},
 * else one token per byte when asked or when the model's vocabulary is 256.
 *
 * @param tokenizerJson the Hugging Face tokenizer.json chosen, or null for bytes
 * @param vocab         the model's vocabulary size, which the tokenizer's ids must fit
 */
public record TokenizerChoice(Path tokenizerJson, int vocab) {

    /**
     * The tokenizer for the model in {@code modelDir} of {@code vocab} tokens.
     *
     * @param tokenizer the user's tokenizer.json, or null
     * @param bytes     one token per byte
     * @throws UpcycleException InvalidOption when both or neither can be had, IoError when
     *         {@code tokenizer} is not a file
     */
    public static TokenizerChoice resolve(Path tokenizer, boolean bytes, Path modelDir, int vocab) {
        requireOneOf(tokenizer, bytes);
        if (tokenizer != null) {
            if (!Files.isRegularFile(tokenizer)) {
                throw new UpcycleException(ErrorKind.IoError, tokenizer.toString(), "no such file");
            }
            return new TokenizerChoice(tokenizer, vocab);
        }
        // The model's own tokenizer.json is a model file: the link rule applies (--tokenizer is the user's choice).
        Optional<Path> own = bytes ? Optional.empty() : ModelFiles.of(modelDir).optional("tokenizer.json");
        if (own.isPresent()) {
            return new TokenizerChoice(own.get(), vocab);
        }
        if (bytes || vocab == 256) {
            return new TokenizerChoice(null, vocab);
        }
        throw new UpcycleException(ErrorKind.InvalidOption, modelDir.toString(), "no tokenizer: the model has no "
                + "tokenizer.json and a vocabulary of " + vocab + ", not 256 bytes", "pass --tokenizer FILE or --bytes");
    }

    /** Refuses {@code --tokenizer} together with {@code --bytes}. */
    public static void requireOneOf(Path tokenizer, boolean bytes) {
        if (tokenizer != null && bytes) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tokenizer", "give --tokenizer or --bytes, not both");
        }
    }

    public boolean isBytes() {
        return tokenizerJson == null;
    }

    /** How the text is tokenized, as eval and train report it: {@code bytes} or {@code tokenizer PATH}. */
    public String description() {
        return isBytes() ? "bytes" : "tokenizer " + tokenizerJson;
    }

    /** A codec for prompts and continuations; the tokenizer is loaded (and checked against the vocabulary) here. */
    public TextCodec codec() {
        return isBytes() ? TextCodec.bytes() : TextCodec.tokenizer(tokenizerJson, vocab);
    }

    /** The ids of the text file {@code file}, at most {@code limit}. */
    public int[] encode(Path file, int limit) {
        return isBytes() ? TokenData.bytes(file, limit) : TokenData.tokenizer(file, tokenizerJson, vocab, limit);
    }
}
