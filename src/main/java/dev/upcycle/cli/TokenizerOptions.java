package dev.upcycle.cli;

import dev.upcycle.data.TextCodec;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.ModelFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --tokenizer} / {@code --bytes}: one definition for eval, train and sample. */
final class TokenizerOptions {
    @Option(names = "--tokenizer", paramLabel = "TOKENIZER_JSON", description = "A Hugging Face tokenizer.json.")
    Path tokenizer;

    @Option(names = "--bytes", description = "One token per byte (id = byte value).")
    boolean bytes;

    /**
     * Text to ids for the model in {@code dir}, by eval's rule (TokenSource): {@code --tokenizer},
     * else {@code DIR/tokenizer.json} unless {@code --bytes}, else bytes for a 256-token vocabulary.
     */
    TextCodec codec(Path dir, int vocab) {
        if (tokenizer != null && bytes) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tokenizer", "give --tokenizer or --bytes, not both");
        }
        if (tokenizer != null && !Files.isRegularFile(tokenizer)) {
            throw new UpcycleException(ErrorKind.IoError, tokenizer.toString(), "no such file");
        }
        if (tokenizer != null) {
            return TextCodec.tokenizer(tokenizer, vocab);
        }
        // The model's own tokenizer.json is a model file: the link rule applies (--tokenizer is the user's choice).
        Optional<Path> own = bytes ? Optional.empty() : ModelFiles.of(dir).optional("tokenizer.json");
        if (own.isPresent()) {
            return TextCodec.tokenizer(own.get(), vocab);
        }
        if (bytes || vocab == 256) {
            return TextCodec.bytes();
        }
        throw new UpcycleException(ErrorKind.InvalidOption, dir.toString(), "no tokenizer: the model has no "
                + "tokenizer.json and a vocabulary of " + vocab + ", not 256 bytes", "pass --tokenizer FILE or --bytes");
    }
}
