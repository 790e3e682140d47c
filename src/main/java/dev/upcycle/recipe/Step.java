package dev.upcycle.recipe;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One step: a command name and its options, keyed by long option name without dashes (or by a
 * positional parameter's name). Values are strings, or lists of strings for repeated options
 * and several positionals; booleans are "true" / "false".
 *
 * @param number 1-based position in the recipe, for messages
 */
public record Step(int number, String command, Map<String, List<String>> options) {

    public Step {
        Map<String, List<String>> copy = new LinkedHashMap<>();
        options.forEach((k, v) -> copy.put(k, List.copyOf(v)));
        options = Collections.unmodifiableMap(copy);
    }

    /** "step 2 (convert)", for messages. */
    public String label() {
        return "step " + number + " (" + command + ")";
    }
}
