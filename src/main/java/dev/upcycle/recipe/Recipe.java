package dev.upcycle.recipe;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A parsed recipe with its variables already substituted.
 *
 * @param file  where it was read from (named in every error)
 * @param name  the recipe's {@code name}, or the file name without extension
 * @param vars  the variables after {@code --set} overrides, in declaration order
 * @param steps the steps, in order
 */
public record Recipe(Path file, String name, Map<String, String> vars, List<Step> steps) {

    public Recipe {
        vars = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(vars));
        steps = List.copyOf(steps);
    }
}
