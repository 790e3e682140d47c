package dev.upcycle.recipe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.JsonErrors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Reads a recipe file: YAML (JSON works too) with {@code name}, optional {@code description},
 * optional {@code vars} (a map of scalars) and {@code steps} (a list of one-key maps
 * {@code command: {option: value}}). Structural errors name the file, the step and the key;
 * whether a key is a real option of its command is checked by the CLI against the command's
 * own option definitions. Parsing is bounded: file size, nesting, aliases and string length.
 */
public final class RecipeParser {
    /** Recipes are small hand-written files; anything bigger is a mistake or an attack. */
    static final long MAX_BYTES = 1 << 20;
    private static final Set<String> TOP_LEVEL = Set.of("name", "description", "vars", "steps");
    private static final ObjectMapper YAML;

    static {
        LoaderOptions loader = new LoaderOptions();
        loader.setMaxAliasesForCollections(20);
        loader.setNestingDepthLimit(32);
        loader.setCodePointLimit((int) MAX_BYTES);
        loader.setAllowDuplicateKeys(false);
        YAMLFactory factory = YAMLFactory.builder().loaderOptions(loader)
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(32).maxStringLength(64 * 1024).maxNumberLength(100).build())
                .build();
        YAML = new ObjectMapper(factory);
    }

    private RecipeParser() {
    }

    /**
     * Parses and substitutes variables.
     *
     * @param overrides {@code --set} values; they replace declared variables and may add new ones
     */
    public static Recipe read(Path file, Map<String, String> overrides) {
        // A device, pipe or directory has no size to check and may never end: refuse it unread.
        if (!Files.isRegularFile(file)) {
            throw new UpcycleException(ErrorKind.InvalidRecipe, file.toString(), Files.exists(file)
                    ? "not a regular file; a recipe is a YAML text file" : "no such file");
        }
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            // The cap applies to what is read, not to what the file claims: at most one byte more.
            bytes = in.readNBytes((int) MAX_BYTES + 1);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.InvalidRecipe, file.toString(), "cannot read: " + e.getMessage());
        }
        if (bytes.length > MAX_BYTES) {
            throw error(file, "the file", "larger than 1 MiB; recipes are small text files");
        }
        return parse(file, new String(bytes, StandardCharsets.UTF_8), overrides);
    }

    /** Parses recipe text; {@code file} is used in messages only. */
    public static Recipe parse(Path file, String text, Map<String, String> overrides) {
        JsonNode root = readYamlMap(file, text, "a recipe is a map with 'name', 'vars' and 'steps'");
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!TOP_LEVEL.contains(key)) {
                throw error(file, "key '" + key + "'", "unknown top-level key; allowed: name, description, vars, steps");
            }
        }
        String name = root.has("name") ? scalar(root.get("name"), file, "key 'name'")
                : stripExtension(file.getFileName().toString());
        Map<String, String> declared = new LinkedHashMap<>();
        JsonNode vars = root.get("vars");
        if (vars != null && !vars.isNull()) {
            if (!vars.isObject()) {
                throw error(file, "key 'vars'", "must be a map of names to values");
            }
            vars.properties().forEach(e -> declared.put(e.getKey(), scalar(e.getValue(), file, "variable '" + e.getKey() + "'")));
        }
        declared.putAll(overrides);
        Map<String, String> resolved = Variables.resolve(declared, why -> error(file, "key 'vars'", why));
        Budget budget = new Budget(file);
        resolved.forEach((k, v) -> budget.spend(v.length(), "variable '" + k + "'"));
        JsonNode steps = root.get("steps");
        if (steps == null || !steps.isArray() || steps.isEmpty()) {
            throw error(file, "key 'steps'", "a recipe needs a non-empty list of steps");
        }
        List<Step> out = new ArrayList<>();
        int number = 0;
        for (JsonNode s : steps) {
            number++;
            out.add(step(file, number, s, resolved, budget));
        }
        return new Recipe(file, name, resolved, out);
    }

    /**
     * Anchors and aliases are refused: recipes do not need them, and aliases are how "billion
     * laughs" documents expand a few bytes into gigabytes.
     */
    static void rejectAnchors(Path file, String text) throws IOException {
        try (YAMLParser p = (YAMLParser) YAML.getFactory().createParser(text)) {
            while (p.nextToken() != null) {
                if (p.isCurrentAlias() || p.getObjectId() != null) {
                    throw error(file, "line " + p.currentLocation().getLineNr(),
                            "YAML anchors and aliases (&name, *name) are not allowed in recipes");
                }
            }
        }
    }

    /**
     * The whole expanded recipe (variables and every option value) is capped like the file itself:
     * values that each stay under the per-value limit could otherwise still add up to gigabytes.
     */
    private static final class Budget {
        private final Path file;
        private long left = MAX_BYTES;

        Budget(Path file) {
            this.file = file;
        }

        void spend(int chars, String where) {
            left -= chars;
            if (left < 0) {
                throw error(file, where, "the recipe expands to more than " + MAX_BYTES
                        + " characters in all; recipes are small text files");
            }
        }
    }

    private static Step step(Path file, int number, JsonNode node, Map<String, String> vars, Budget budget) {
        String where = "step " + number;
        if (!node.isObject() || node.size() != 1) {
            throw error(file, where, "each step is a map with exactly one key, the command name, e.g. '- verify: {dir: out}'");
        }
        Map.Entry<String, JsonNode> only = node.properties().iterator().next();
        String command = only.getKey();
        JsonNode opts = only.getValue();
        where = where + " (" + command + ")";
        Map<String, List<String>> options = new LinkedHashMap<>();
        if (opts != null && !opts.isNull()) {
            if (!opts.isObject()) {
                throw error(file, where, "options must be a map of option names to values");
            }
            for (Map.Entry<String, JsonNode> e : opts.properties()) {
                String keyWhere = where + " key '" + e.getKey() + "'";
                List<String> values = new ArrayList<>();
                if (e.getValue().isArray()) {
                    for (JsonNode v : e.getValue()) {
                        values.add(substitute(scalar(v, file, keyWhere), vars, file, keyWhere));
                        budget.spend(values.get(values.size() - 1).length(), keyWhere);
                    }
                } else {
                    values.add(substitute(scalar(e.getValue(), file, keyWhere), vars, file, keyWhere));
                    budget.spend(values.get(0).length(), keyWhere);
                }
                options.put(e.getKey(), values);
            }
        }
        return new Step(number, command, options);
    }

    private static String substitute(String text, Map<String, String> vars, Path file, String where) {
        return Variables.substitute(text, vars, new Variables.Errors() {
            @Override
            public RuntimeException undefined(String name) {
                return error(file, where, "undefined variable ${" + name + "}"
                        + " (define it under 'vars' or pass --set " + name + "=VALUE)");
            }

            @Override
            public RuntimeException tooLong(int limit) {
                return error(file, where, "expands to more than " + limit + " characters");
            }
        });
    }

    private static String scalar(JsonNode v, Path file, String where) {
        if (v == null || v.isNull()) {
            throw error(file, where, "has no value");
        }
        if (v.isContainerNode()) {
            throw error(file, where, "must be a plain value, not a " + (v.isArray() ? "nested list" : "map"));
        }
        return v.asText();
    }

    /**
     * The YAML document of {@code text} (anchors refused), which must be a map; {@code notAMap} says
     * what it should be instead. Recipes and mergekit-moe configurations read their files here.
     */
    static JsonNode readYamlMap(Path file, String text, String notAMap) {
        JsonNode root;
        try {
            rejectAnchors(file, text);
            root = YAML.readTree(text);
        } catch (UpcycleException e) {
            throw e;
        } catch (JsonProcessingException e) {
            throw error(file, "the file", "not valid YAML: " + JsonErrors.describe(e));
        } catch (IOException | RuntimeException e) {
            throw error(file, "the file", "not valid YAML: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw error(file, "the file", notAMap);
        }
        return root;
    }

    static UpcycleException error(Path file, String where, String why) {
        return new UpcycleException(ErrorKind.InvalidRecipe, file + " " + where, why);
    }

    private static String stripExtension(String n) {
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
