package dev.upcycle.cli;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.recipe.Recipe;
import dev.upcycle.recipe.Step;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Turns a recipe step into the argument list of its command, using the command's own option
 * definitions (so recipes accept exactly what the CLI accepts and nothing else), and validates
 * it by parsing it with picocli without running anything. Keys are long option names without
 * dashes; a positional parameter's key is its descriptionKey, or its label in lower case (e.g. {@code dir}).
 */
final class StepArgs {
    /** Commands a recipe may not call: {@code run} would recurse; help and completion are interactive. */
    private static final Set<String> NOT_IN_RECIPES = Set.of("run", "help", "generate-completion");

    private StepArgs() {
    }

    /** The validated argument list, starting with the command name. */
    static List<String> of(Recipe recipe, Step step) {
        CommandLine root = Main.commandLine();
        CommandLine sub = root.getSubcommands().get(step.command());
        if (sub == null || NOT_IN_RECIPES.contains(step.command())) {
            Set<String> names = new TreeSet<>(root.getSubcommands().keySet());
            names.removeAll(NOT_IN_RECIPES);
            String hint = dev.upcycle.error.Suggestions.didYouMean(step.command(), names);
            throw error(recipe, step, null, "unknown command '" + step.command() + "'"
                    + (hint.isEmpty() ? "" : hint.substring(0, hint.length() - 1)) + "; a step is one of " + names);
        }
        CommandSpec spec = sub.getCommandSpec();
        List<String> options = new ArrayList<>();
        List<String> positionals = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : step.options().entrySet()) {
            String key = e.getKey();
            OptionSpec opt = key.startsWith("-") ? null : spec.findOption("--" + key);
            if (opt != null && !opt.usageHelp() && !opt.versionHelp()) {
                addOption(recipe, step, opt, key, e.getValue(), options);
                continue;
            }
            PositionalParamSpec pos = positional(spec, key);
            if (pos == null) {
                String hint = dev.upcycle.error.Suggestions.didYouMean(key, keys(spec));
                throw error(recipe, step, key, "unknown key" + (hint.isEmpty() ? "" : hint.substring(0, hint.length() - 1))
                        + "; " + step.command() + " accepts " + validKeys(spec));
            }
            positionals.addAll(e.getValue());
        }
        // Positionals after "--" so that a value starting with '-' is never read as an option.
        List<String> args = new ArrayList<>();
        args.add(step.command());
        args.addAll(options);
        args.add("--");
        args.addAll(positionals);
        validate(recipe, step, args);
        return args;
    }

    private static void addOption(Recipe recipe, Step step, OptionSpec opt, String key, List<String> values,
                                  List<String> out) {
        boolean flag = opt.arity().max() == 0;
        if (flag) {
            if (values.size() != 1 || !(values.get(0).equals("true") || values.get(0).equals("false"))) {
                throw error(recipe, step, key, "is a switch: write true or false, found " + values);
            }
            if (values.get(0).equals("true")) {
                out.add(opt.longestName());
            }
            return;
        }
        if (values.size() > 1 && !opt.isMultiValue()) {
            throw error(recipe, step, key, "takes one value, found a list of " + values.size());
        }
        for (String v : values) {
            out.add(opt.longestName());
            out.add(v);
        }
    }

    private static PositionalParamSpec positional(CommandSpec spec, String key) {
        for (PositionalParamSpec p : spec.positionalParameters()) {
            if (keyOf(p).equals(key)) {
                return p;
            }
        }
        return null;
    }

    /** A positional's recipe key: its descriptionKey when set (convert's "inputs"), else its label. */
    private static String keyOf(PositionalParamSpec p) {
        if (p.descriptionKey() != null && !p.descriptionKey().isEmpty()) {
            return p.descriptionKey();
        }
        return p.paramLabel().replaceAll("[<>.]", "").toLowerCase(java.util.Locale.ROOT);
    }

    private static String validKeys(CommandSpec spec) {
        return String.join(", ", keys(spec));
    }

    private static Set<String> keys(CommandSpec spec) {
        Set<String> keys = new TreeSet<>();
        for (PositionalParamSpec p : spec.positionalParameters()) {
            keys.add(keyOf(p));
        }
        for (OptionSpec o : spec.options()) {
            if (!o.usageHelp() && !o.versionHelp() && o.longestName().startsWith("--")) {
                keys.add(o.longestName().substring(2));
            }
        }
        return keys;
    }

    /** Parses without executing, so type errors and missing required options surface before any step runs. */
    private static void validate(Recipe recipe, Step step, List<String> args) {
        CommandLine cl = Main.commandLine();
        try {
            cl.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw error(recipe, step, keyIn(e), recipeWording(e.getMessage()));
        }
    }

    private static String keyIn(CommandLine.ParameterException e) {
        if (e.getArgSpec() instanceof OptionSpec o) {
            return o.longestName().replaceFirst("^--", "");
        }
        if (e.getArgSpec() instanceof PositionalParamSpec p) {
            return keyOf(p);
        }
        return null;
    }

    /** picocli speaks of options ("--top-k"); a recipe author wrote keys ("top-k"). */
    private static String recipeWording(String message) {
        String m = message == null ? "invalid" : message.lines().findFirst().orElse("invalid");
        return m.replaceAll("'--([a-z0-9-]+)(=[^']*)?'", "'$1'").replace("option", "key");
    }

    private static UpcycleException error(Recipe recipe, Step step, String key, String why) {
        String where = recipe.file() + " " + step.label() + (key == null ? "" : " key '" + key + "'");
        return new UpcycleException(ErrorKind.InvalidRecipe, where, why);
    }
}
