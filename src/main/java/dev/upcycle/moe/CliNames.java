package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Parses the CLI spelling of a closed option set, naming the allowed values on failure. */
final class CliNames {
    private CliNames() {
    }

    /**
     * @param values  the enum constants, in the order to list them
     * @param name    each constant's CLI spelling
     * @param option  the option being parsed, e.g. {@code --routing}
     * @param what    a noun for the error message, e.g. {@code routing mode}
     * @param text    the user's text (case-insensitive, surrounding blanks ignored)
     * @throws UpcycleException InvalidOption listing the allowed spellings
     */
    static <E extends Enum<E>> E parse(E[] values, Function<E, String> name, String option, String what,
                                       String text) {
        String wanted = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        for (E e : values) {
            if (name.apply(e).equals(wanted)) {
                return e;
            }
        }
        String allowed = Arrays.stream(values).map(name).collect(Collectors.joining(", "));
        throw new UpcycleException(ErrorKind.InvalidOption, option,
                "\"" + text + "\" is not a valid " + what + "; allowed values: " + allowed
                        + dev.upcycle.error.Suggestions.didYouMean(wanted,
                                Arrays.stream(values).map(name).toList()));
    }
}
