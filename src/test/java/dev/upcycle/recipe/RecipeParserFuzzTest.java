package dev.upcycle.recipe;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.upcycle.error.UpcycleException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * Fuzzes {@link RecipeParser#parse} with any text (issue 9): the only acceptable outcomes are a
 * recipe or an UpcycleException (InvalidRecipe). Seeds are the shipped recipes plus a few
 * hand-made hostile ones (anchors, deep nesting, undefined variables). A normal build replays
 * them; scripts/fuzz fuzzes.
 */
class RecipeParserFuzzTest {
    private static final Path FILE = Path.of("fuzz.yaml");

    @FuzzTest
    void parse(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        try {
            Recipe r = RecipeParser.parse(FILE, text, Map.of("work", "w"));
            if (r.steps().isEmpty()) {
                throw new AssertionError("a parsed recipe has no steps");
            }
            for (Step s : r.steps()) {
                if (s.command() == null || s.command().isEmpty()) {
                    throw new AssertionError("a step without a command: " + s);
                }
                // Values are plain strings ("$${a}" is the escape for a literal "${a}", so a "${"
                // in a value is legitimate); none may be null.
                s.options().values().forEach(v -> v.forEach(java.util.Objects::requireNonNull));
            }
        } catch (UpcycleException expected) {
            // malformed recipe: the documented outcome
        }
    }
}
