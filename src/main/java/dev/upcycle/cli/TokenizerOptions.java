package dev.upcycle.cli;

import dev.upcycle.data.TextCodec;
import dev.upcycle.data.TokenData;
import dev.upcycle.data.TokenSource;
import dev.upcycle.data.TokenizerChoice;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * {@code --tokenizer} / {@code --bytes}: one definition for eval, train and sample. The options are
 * only collected here; which tokenizer they give is {@link TokenizerChoice}'s rule.
 */
class TokenizerOptions {
    @Option(names = "--tokenizer", paramLabel = "TOKENIZER_JSON", description = "A Hugging Face tokenizer.json.")
    Path tokenizer;

    @Option(names = "--bytes", description = "One token per byte (id = byte value).")
    boolean bytes;

    /** Text to ids for the model in {@code dir} of {@code vocab} tokens. */
    TextCodec codec(Path dir, int vocab) {
        return TokenizerChoice.resolve(tokenizer, bytes, dir, vocab).codec();
    }

    /** The options of commands that read a data file (eval, train): these plus the width of a .bin file's ids. */
    static final class WithBinDtype extends TokenizerOptions {
        @Option(names = "--bin-dtype", paramLabel = "u16|u32",
                description = "Width of the ids of a .bin file (default: u32 for *.u32.bin, else u16).")
        String binDtype;

        /** The whole of {@code data}, tokenized as these options say. */
        TokenSource source(Path data) {
            return source(data, 0, 1);
        }

        /** Slice {@code slice} (0-based) of {@code slices} equal parts of {@code data}. */
        TokenSource source(Path data, int slice, int slices) {
            return new TokenSource(data, tokenizer, bytes, width(), slice, slices);
        }

        private TokenData.BinDtype width() {
            if (binDtype == null) {
                return null;
            }
            return switch (binDtype.toLowerCase(Locale.ROOT)) {
                case "u16", "uint16" -> TokenData.BinDtype.U16;
                case "u32", "uint32" -> TokenData.BinDtype.U32;
                default -> throw new UpcycleException(ErrorKind.InvalidOption, "--bin-dtype", binDtype + " is not u16 or u32");
            };
        }
    }
}
