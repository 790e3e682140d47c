package dev.upcycle.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Help.TextTable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Help text wrapped at spaces only. picocli wraps with Java's line BreakIterator, which also breaks
 * after a dot inside a word ("train-config.", "json" on the next line), so file names in the help
 * were cut in two. Here every cell and description is wrapped at blanks first; a line that then
 * fits its column is never broken again.
 */
final class HelpWrap {
    private HelpWrap() {
    }

    /** Installs the wrapping on {@code cl} and all its subcommands. */
    static void install(CommandLine cl) {
        cl.setHelpFactory(Factory::new);
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_DESCRIPTION, HelpWrap::description);
        cl.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_FOOTER, HelpWrap::footer);
        for (CommandLine sub : cl.getSubcommands().values()) {
            install(sub);
        }
    }

    private static String description(Help help) {
        return lines(help.commandSpec().usageMessage().description(), help.commandSpec().usageMessage().width());
    }

    /**
     * The footer holds the examples: a command line too long for the terminal continues on the
     * next line after a backslash, so that copying it runs one command, not two.
     */
    private static String footer(Help help) {
        int width = help.commandSpec().usageMessage().width();
        StringBuilder b = new StringBuilder();
        for (String p : help.commandSpec().usageMessage().footer()) {
            for (String line : String.format(p).split("\\R", -1)) {
                if (!line.startsWith("  upcycle ")) {
                    wrap(line, width, "").forEach(l -> b.append(l).append(System.lineSeparator()));
                    continue;
                }
                // An option stays on one line with its value: "--top-k 2", never "--top-k \" then "2".
                String glued = line.replaceAll("(\\s--?[a-zA-Z][\\w-]*) (?!-)", "$1\u0000");
                List<String> parts = wrap(glued, width - 2, "      ");
                for (int i = 0; i < parts.size(); i++) {
                    b.append(parts.get(i).replace('\u0000', ' ')).append(i < parts.size() - 1 ? " \\" : "").append(System.lineSeparator());
                }
            }
        }
        return b.toString();
    }

    /** Each element a paragraph (format specifiers such as %n applied), wrapped to {@code width}. */
    private static String lines(String[] paragraphs, int width) {
        StringBuilder b = new StringBuilder();
        for (String p : paragraphs) {
            for (String line : String.format(p).split("\\R", -1)) {
                wrap(line, width, "").forEach(l -> b.append(l).append(System.lineSeparator()));
            }
        }
        return b.toString();
    }

    /**
     * Greedy wrap at blanks: the first line as given (its leading blanks kept), later lines with
     * {@code indent}. A single word longer than the width stays whole on its own line.
     */
    static List<String> wrap(String text, int width, String indent) {
        List<String> out = new ArrayList<>();
        int lead = 0;
        while (lead < text.length() && text.charAt(lead) == ' ') {
            lead++;
        }
        StringBuilder line = new StringBuilder(text.substring(0, lead));
        boolean empty = true;
        for (String word : text.substring(lead).split(" +")) {
            if (word.isEmpty()) {
                continue;
            }
            if (!empty && line.length() + 1 + word.length() > width) {
                out.add(line.toString());
                line = new StringBuilder(indent);
                empty = true;
            }
            line.append(empty ? "" : " ").append(word);
            empty = false;
        }
        out.add(line.toString());
        return out;
    }

    private static final class Factory extends Help {
        Factory(CommandSpec spec, ColorScheme scheme) {
            super(spec, scheme);
        }

        @Override
        public Layout createDefaultLayout(List<OptionSpec> options, List<PositionalParamSpec> positionals,
                                          ColorScheme scheme) {
            Layout layout = super.createDefaultLayout(options, positionals, scheme);
            return new Layout(scheme, new Table(scheme, layout.textTable()), layout.optionRenderer(),
                    layout.parameterRenderer());
        }
    }

    /** A table whose cells are pre-wrapped at blanks to their column's width. */
    private static final class Table extends TextTable {
        Table(Help.ColorScheme scheme, TextTable like) {
            super(scheme, like.columns());
            indentWrappedLines = like.indentWrappedLines;
        }

        @Override
        public Cell putValue(int row, int col, Text value) {
            String plain = value.plainString();
            int width = columns()[col].width - columns()[col].indent;
            if (plain.length() <= width || plain.indexOf('\n') >= 0 || plain.indexOf(' ') < 0) {
                return super.putValue(row, col, value);
            }
            String indent = " ".repeat(indentWrappedLines);
            List<String> lines = wrap(plain, width, indent);
            Cell cell = null;
            for (int i = 0; i < lines.size(); i++) {
                while (row + i >= rowCount()) {
                    addEmptyRow();
                }
                cell = super.putValue(row + i, col, Help.Ansi.OFF.new Text(lines.get(i)));
            }
            return cell;
        }
    }
}
