package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.recipe.Recipe;
import dev.upcycle.recipe.RecipeParser;
import dev.upcycle.recipe.Step;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code upcycle run}: recipe files, validated in full (every step of every recipe) before any
 * step runs, then executed in order with a summary table. Exit code: the worst step's.
 */
@Command(name = "run", sortOptions = false, mixinStandardHelpOptions = true,
        description = "Run recipe files (YAML: name, vars, steps of 'command: {option: value}'). Every recipe is "
            + "validated before any step runs; a summary table follows. Exit code: the worst step's.",
        footerHeading = "%nExample:%n",
        footer = "  upcycle run recipes/quickstart.yaml --set work=/tmp/qs")
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "RECIPE", description = "Recipe files, run one after another.")
    List<Path> recipes;

    // Taken as plain strings and split here: picocli's own map parsing treats quotes specially and
    // prints warnings of its own for a value with an odd number of them.
    @Option(names = "--set", paramLabel = "NAME=VALUE",
            description = "Set or override a recipe variable; repeatable. VALUE is used as given, quotes included.")
    List<String> sets = new ArrayList<>();

    @Option(names = "--continue-on-error", description = "Go on with the next step after a failed one.")
    boolean continueOnError;

    @Option(names = "--json", description = "Print the summary as one JSON document; step output goes to stderr.")
    boolean json;

    @Override
    public Integer call() {
        Map<String, String> overrides = overrides(sets);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<Planned> planned = plan(overrides, err);
        PrintWriter stepOut = json ? err : out;
        List<StepResult> results = new ArrayList<>();
        boolean stop = false;
        Integer interrupted = null;
        for (Planned p : planned) {
            if (stop) {
                results.add(new StepResult(p, "skipped", -1, 0, Map.of(), Map.of()));
                continue;
            }
            if (Cancellation.requested()) {
                // Between steps: no step is running, so nothing needs cleaning; say which ran.
                long done = results.stream().filter(r -> r.code == 0).count();
                Cancellation.note(done + " step(s) completed; stopped before " + p.recipe.name() + " "
                        + p.step.label());
                Cancellation.check();
            }
            if (!json) {
                out.println("== " + p.recipe.name() + " " + p.step.label());
            }
            CommandLine cl = Main.commandLine();
            cl.setOut(stepOut);
            cl.setErr(err);
            long start = System.nanoTime();
            int code = cl.execute(p.args.toArray(String[]::new));
            double seconds = (System.nanoTime() - start) / 1e9;
            Object command = cl.getSubcommands().get(p.step.command()).getCommand();
            Map<String, String> figures = command instanceof KeyFigures k ? k.keyFigures() : Map.of();
            Map<String, Object> jsonFigures = command instanceof KeyFigures k ? k.jsonFigures() : Map.of();
            results.add(new StepResult(p, code == 0 ? "ok" : "failed", code, seconds, figures, jsonFigures));
            stepOut.flush();
            if (Cancellation.requested() && code != 0) {
                // The step was stopped by the signal and has printed what it removed and kept.
                interrupted = Cancellation.signal().exitCode();
                stop = true;
            } else if (code != 0 && !continueOnError) {
                stop = true;
            }
        }
        int worst = worst(results);
        if (json) {
            out.println(Json.pretty(json(results, worst)));
        } else {
            out.print(table(results));
        }
        return interrupted != null ? interrupted : worst;
    }

    /**
     * Every step of every recipe, validated. All problems are found before one is reported, so a
     * recipe with three mistakes takes one run to fix, not three: each is printed as its own error
     * line and the last is thrown (same kind, same exit code).
     */
    private List<Planned> plan(Map<String, String> overrides, PrintWriter err) {
        List<Planned> planned = new ArrayList<>();
        List<UpcycleException> errors = new ArrayList<>();
        java.util.Set<String> unused = new java.util.LinkedHashSet<>(overrides.keySet());
        for (Path file : recipes) {
            Recipe recipe;
            try {
                recipe = RecipeParser.read(file, overrides);
            } catch (UpcycleException e) {
                errors.add(e);
                unused.clear(); // an unreadable recipe may be the one that uses them
                continue;
            }
            unused.removeIf(name -> uses(recipe, name));
            for (Step step : recipe.steps()) {
                try {
                    planned.add(new Planned(recipe, step, StepArgs.of(recipe, step)));
                } catch (UpcycleException e) {
                    errors.add(e);
                }
            }
        }
        for (String name : unused) {
            errors.add(new UpcycleException(ErrorKind.InvalidOption, "--set " + name,
                    "no recipe uses ${" + name + "}" + dev.upcycle.error.Suggestions.didYouMean(name, declared())));
        }
        if (errors.isEmpty()) {
            return planned;
        }
        for (UpcycleException e : errors.subList(0, errors.size() - 1)) {
            err.println("upcycle: " + e.line());
            if (e.hint() != null) {
                err.println("  " + e.hint());
            }
        }
        throw errors.get(errors.size() - 1);
    }

    /** Whether the recipe's text refers to the variable (in a step or in another variable). */
    private static boolean uses(Recipe recipe, String name) {
        try {
            return java.nio.file.Files.readString(recipe.file()).contains("${" + name + "}");
        } catch (java.io.IOException | RuntimeException e) {
            return true; // it was just read; if it cannot be read again, do not guess
        }
    }

    /** The variables the recipes declare, for suggestions. */
    private List<String> declared() {
        List<String> names = new ArrayList<>();
        for (Path file : recipes) {
            try {
                names.addAll(RecipeParser.read(file, Map.of()).vars().keySet());
            } catch (UpcycleException e) {
                // a recipe that does not parse without the overrides offers no names
            }
        }
        return names;
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*");

    /** {@code NAME=VALUE} pairs, split at the first '='; a later one for the same name wins. */
    static Map<String, String> overrides(List<String> sets) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String s : sets) {
            int eq = s.indexOf('=');
            String name = eq < 0 ? s : s.substring(0, eq);
            if (eq < 0 || !NAME.matcher(name).matches()) {
                throw new UpcycleException(ErrorKind.InvalidOption, "--set " + s,
                        eq < 0 ? "expected NAME=VALUE" : "'" + name + "' is not a variable name (letters, digits, _ . -)");
            }
            out.put(name, s.substring(eq + 1));
        }
        return out;
    }

    /** Exit codes ordered by gravity: 70 (bug) > 4 > 3 > 2 > 1 > 0. */
    static int worst(List<StepResult> results) {
        int worst = 0;
        for (StepResult r : results) {
            if (r.code > worst) {
                worst = r.code;
            }
        }
        return worst;
    }

    private static String table(List<StepResult> results) {
        StringBuilder b = new StringBuilder("\n");
        String fmt = "%-20s %-18s %-8s %9s  %s%n";
        b.append(String.format(Locale.ROOT, fmt, "recipe", "step", "status", "time", "figures"));
        for (StepResult r : results) {
            String figures = r.figures.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                    .reduce((x, y) -> x + ", " + y).orElse("");
            String status = r.code > 0 ? r.status + " (" + r.code + ")" : r.status;
            b.append(String.format(Locale.ROOT, fmt, clip(r.planned.recipe.name(), 20), clip(r.planned.step.label(), 18),
                    status, r.code < 0 ? "-" : String.format(Locale.ROOT, "%.1fs", r.seconds), figures));
        }
        return b.toString();
    }

    private static ObjectNode json(List<StepResult> results, int worst) {
        ObjectNode root = Json.document(worst == 0);
        root.put("exit_code", worst);
        ArrayNode steps = root.putArray("steps");
        for (StepResult r : results) {
            ObjectNode s = steps.addObject();
            s.put("recipe", r.planned.recipe.name());
            s.put("file", r.planned.recipe.file().toString());
            s.put("step", r.planned.step.number());
            s.put("command", r.planned.step.command());
            s.put("status", r.status);
            if (r.code >= 0) {
                s.put("exit_code", r.code);
                s.put("seconds", Math.round(r.seconds * 1000) / 1000.0);
            }
            ObjectNode f = s.putObject("figures");
            r.jsonFigures.forEach((k, v) -> {
                if (v instanceof Double || v instanceof Float) {
                    f.put(k, ((Number) v).doubleValue());
                } else if (v instanceof Number n) {
                    f.put(k, n.longValue());
                } else {
                    f.put(k, String.valueOf(v));
                }
            });
        }
        return root;
    }

    private static String clip(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "~";
    }

    private record Planned(Recipe recipe, Step step, List<String> args) {
    }

    record StepResult(Planned planned, String status, int code, double seconds, Map<String, String> figures,
                      Map<String, Object> jsonFigures) {
    }
}
