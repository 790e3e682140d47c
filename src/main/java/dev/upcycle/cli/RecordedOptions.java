package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The options of a command as {@code upcycle.json} records them, read from picocli's model of the
 * command, as recipes read it: every option in the order the command declares it, under its long
 * name without dashes, with its typed value, so a new option is recorded without further code.
 * Left out: an option without a value (null), the options that only say where the output goes
 * or how the command reports ({@link #NOT_RECORDED}), and those inherited from {@code upcycle}
 * itself ({@code --debug}). A command replaces the value of an
 * option it resolves (a default that depends on the inputs, a name it normalises) with
 * {@link #resolved}.
 */
final class RecordedOptions {
    /** Where the output goes and how the command reports: never part of what was made. */
    private static final Set<String> NOT_RECORDED = Set.of("--output", "--force", "--quiet", "--json", "--dry-run", "--tensors",
            "--verbose");

    private final CommandSpec spec;
    private final Map<String, Object> resolved = new HashMap<>();
    private final Map<String, Object> extra = new LinkedHashMap<>();

    private RecordedOptions(CommandSpec spec) {
        this.spec = spec;
    }

    static RecordedOptions of(CommandSpec spec) {
        return new RecordedOptions(spec);
    }

    /** Records {@code value} for the option {@code --name} instead of its parsed one; null leaves it out. */
    RecordedOptions resolved(String name, Object value) {
        if (spec.findOption("--" + name) == null) {
            throw new IllegalArgumentException(spec.name() + " has no option --" + name);
        }
        resolved.put(name, value);
        return this;
    }

    /** A setting that is no option of the command, recorded after the options. */
    RecordedOptions extra(String name, Object value) {
        extra.put(name, value);
        return this;
    }

    ObjectNode json() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        for (OptionSpec opt : spec.options()) {
            String longName = opt.longestName();
            if (opt.usageHelp() || opt.versionHelp() || opt.inherited() || NOT_RECORDED.contains(longName)) {
                continue;
            }
            String name = longName.substring(2);
            put(o, name, resolved.containsKey(name) ? resolved.get(name) : opt.getValue());
        }
        extra.forEach((name, value) -> put(o, name, value));
        return o;
    }

    private static void put(ObjectNode o, String name, Object value) {
        if (value == null) {
            return;
        }
        if (value instanceof Integer i) {
            o.put(name, i);
        } else if (value instanceof Long l) {
            o.put(name, l);
        } else if (value instanceof Double d) {
            o.put(name, d);
        } else if (value instanceof Boolean b) {
            o.put(name, b);
        } else if (value instanceof String || value instanceof Path) {
            o.put(name, value.toString());
        } else if (value instanceof com.fasterxml.jackson.databind.JsonNode node) {
            o.set(name, node);
        } else {
            throw new IllegalStateException("--" + name + ": no JSON form for a " + value.getClass().getName());
        }
    }
}
