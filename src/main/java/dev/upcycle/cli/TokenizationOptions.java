package dev.upcycle.cli;

import dev.upcycle.data.TokenData;
import dev.upcycle.data.TokenSource;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/** How eval and train turn a data file into token ids: one definition of these options for both. */
final class TokenizationOptions {
    @picocli.CommandLine.Mixin
    TokenizerOptions text;

    @Option(names = "--bin-dtype", paramLabel = "u16|u32",
            description = "Width of the ids of a .bin file (default: u32 for *.u32.bin, else u16).")
    String binDtype;

    /** The whole of {@code data}, tokenized as these options say. */
    TokenSource source(Path data) {
        return source(data, 0, 1);
    }

    /** Slice {@code slice} (0-based) of {@code slices} equal parts of {@code data}. */
    TokenSource source(Path data, int slice, int slices) {
        return new TokenSource(data, text.tokenizer, text.bytes, width(), slice, slices);
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
