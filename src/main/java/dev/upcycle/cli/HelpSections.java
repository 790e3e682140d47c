package dev.upcycle.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * The parts of the help that picocli does not lay out by itself: one line per command in the
 * top-level help, convert's ~35 options in sections, and -V on the top-level command only.
 */
final class HelpSections {
    /** One line per command for {@code upcycle --help}; the full text is in each command's help. */
    static final Map<String, String> SUMMARIES = new LinkedHashMap<>();

    static {
        SUMMARIES.put("inspect", "Family, sizes, dtypes and problems of a checkpoint");
        SUMMARIES.put("convert", "Upcycle a dense model into a Mixture-of-Experts checkpoint");
        SUMMARIES.put("verify", "Integrity checks; with --against, step-0 equivalence");
        SUMMARIES.put("eval", "Mean next-token loss and perplexity on a data file");
        SUMMARIES.put("train", "Continued training of a dense or MoE checkpoint");
        SUMMARIES.put("sample", "Greedy continuation of a prompt");
        SUMMARIES.put("report", "Compare train runs in one Markdown report");
        SUMMARIES.put("synth", "Write a deterministic random dense checkpoint");
        SUMMARIES.put("run", "Run recipe files (YAML steps of upcycle commands)");
        SUMMARIES.put("help", "Show the help of a command");
        SUMMARIES.put("generate-completion", "A bash/zsh completion script (see README.md)");
    }

    /** convert's option sections, in order; an option not listed here lands in "Other options". */
    private static final Map<String, List<String>> CONVERT = new LinkedHashMap<>();

    static {
        CONVERT.put("Experts and routing", List.of("--experts", "--top-k", "--granularity", "--routing", "--router-init",
                "--router-std", "--layers", "--target", "--seed"));
        CONVERT.put("Scaling", List.of("--scaling", "--expert-noise-std"));
        CONVERT.put("Shared experts", List.of("--shared-experts", "--shared-expert-size", "--shared-expert-mode"));
        CONVERT.put("Attention experts and merges", List.of("--attention", "--attention-experts", "--attention-top-k",
                "--attention-router-init", "--shared-kv-init", "--block-layout", "--parallel-norms", "--force-parallel"));
        CONVERT.put("Output", List.of("--output", "--dtype", "--max-shard-size", "--dry-run", "--json", "--force",
                "--allow-approximate", "--allow-nonfinite", "--quiet", "--verbose"));
    }

    private HelpSections() {
    }

    static void install(CommandLine root) {
        root.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_COMMAND_LIST, HelpSections::commandList);
        for (CommandLine sub : root.getSubcommands().values()) {
            // --version describes the tool, not a command: it is shown (and accepted) at the top only.
            OptionSpec version = sub.getCommandSpec().findOption("--version");
            if (version != null) {
                sub.getCommandSpec().remove(version);
            }
        }
        CommandLine convert = root.getSubcommands().get("convert");
        convert.getHelpSectionMap().put(UsageMessageSpec.SECTION_KEY_OPTION_LIST, HelpSections::convertOptions);
    }

    private static String commandList(Help help) {
        StringBuilder b = new StringBuilder();
        int width = SUMMARIES.keySet().stream().mapToInt(String::length).max().orElse(0) + 2;
        for (String name : help.subcommands().keySet()) {
            String line = SUMMARIES.getOrDefault(name, "");
            b.append(String.format("  %-" + width + "s%s", name, line).stripTrailing()).append(System.lineSeparator());
        }
        return b.toString();
    }

    private static String convertOptions(Help help) {
        Map<String, List<OptionSpec>> sections = new LinkedHashMap<>();
        CONVERT.keySet().forEach(k -> sections.put(k, new ArrayList<>()));
        sections.put("Other options", new ArrayList<>());
        for (OptionSpec o : help.commandSpec().options()) {
            if (o.hidden()) {
                continue;
            }
            String section = "Other options";
            for (Map.Entry<String, List<String>> e : CONVERT.entrySet()) {
                if (e.getValue().contains(o.longestName())) {
                    section = e.getKey();
                }
            }
            sections.get(section).add(o);
        }
        StringBuilder b = new StringBuilder();
        Help.IParamLabelRenderer labels = help.parameterLabelRenderer();
        sections.forEach((heading, options) -> {
            if (options.isEmpty()) {
                return;
            }
            b.append(System.lineSeparator()).append(heading).append(':').append(System.lineSeparator());
            b.append(help.optionListExcludingGroups(options, help.createDefaultLayout(), null, labels));
        });
        return b.toString();
    }
}
