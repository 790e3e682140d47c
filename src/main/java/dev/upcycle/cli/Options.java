package dev.upcycle.cli;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import java.util.Locale;

/** Parsing of option values shared by several commands; bad values are usage errors (exit 2). */
final class Options {
    /**
     * Tokens per sequence for train and eval alike, so a loss printed by one compares with a loss
     * printed by the other unless a sequence length is given; every loss is printed with its own.
     */
    static final String SEQ_LEN = "256";

    private Options() {
    }

    /** {@code f32}, {@code bf16}, {@code f16} (or the config spellings float32, bfloat16, float16). */
    static DType writableDtype(String s, String option) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "float16" -> DType.F16;
            default -> throw new UpcycleException(ErrorKind.InvalidOption, option,
                    "\"" + s + "\" is not one of f32, bf16, f16"
                            + dev.upcycle.error.Suggestions.didYouMean(s, java.util.List.of("f32", "bf16", "f16")));
        };
    }

    /** A size such as 5GB, 500MB or 2GiB. */
    static long size(String s) {
        return CheckpointWriter.parseSize(s);
    }

    /** {@code a / b}, refusing a remainder. */
    static int divide(int a, int b, String aName, String bName) {
        if (b <= 0 || a % b != 0) {
            throw new UpcycleException(ErrorKind.InvalidOption, aName,
                    aName + " " + a + " is not a multiple of " + bName + " " + b + "; pass --head-dim explicitly");
        }
        return a / b;
    }
}
