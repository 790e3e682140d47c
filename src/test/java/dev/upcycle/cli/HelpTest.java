package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.AutoComplete;
import picocli.CommandLine.Model.OptionSpec;

/** The help a user reads: real labels, whole words, examples that paste as one command. */
class HelpTest {

    static Stream<String> commands() {
        return MainTest.commands();
    }

    @ParameterizedTest
    @MethodSource("commands")
    void everyOptionHasARealLabel(String command) {
        String help = Cli.run(command, "--help").out();
        // picocli's fallback label is the Java field name in angle brackets, e.g. <gradClip>.
        assertThat(Pattern.compile("<[a-zA-Z]+>").matcher(help).results().map(java.util.regex.MatchResult::group).toList()).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("commands")
    void noWordIsBrokenAcrossLines(String command) {
        List<String> lines = Cli.run(command, "--help").out().lines().toList();
        for (int i = 0; i + 1 < lines.size(); i++) {
            String a = lines.get(i).stripTrailing();
            String b = lines.get(i + 1).strip();
            // "train-config." then "json ...": a word cut after its dot.
            assertThat(a.matches(".*[A-Za-z0-9_*-]\\.$") && b.matches("^[a-z].*"))
                    .as("%s help, lines %d-%d: %s / %s", command, i, i + 1, a, b).isFalse();
            assertThat(lines.get(i).length()).as(lines.get(i)).isLessThanOrEqualTo(80);
        }
    }

    @ParameterizedTest
    @MethodSource("commands")
    void examplesContinueWithABackslash(String command) {
        String help = Cli.run(command, "--help").out();
        List<String> lines = help.substring(help.lastIndexOf("Example")).lines().toList();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).startsWith("      ")) {
                assertThat(lines.get(i - 1)).as(help).endsWith(" \\");
            }
        }
    }

    @Test
    void longExamplesAreWrappedWithBackslashes() {
        // train's example is longer than the terminal: it must continue, not run as two commands.
        String help = Cli.run("train", "--help").out();
        assertThat(help).containsPattern("upcycle train test-fixtures/tiny-llama [^\n]* \\\\\n      --");
    }

    @ParameterizedTest
    @MethodSource("commands")
    void versionOptionOnlyOnTheTopLevel(String command) {
        assertThat(Cli.run(command, "--help").out()).doesNotContain("--version").doesNotContain("-V,");
        assertThat(Cli.run(command, "-V").err()).contains("UsageError");
    }

    @Test
    void topLevelHelpIsOneLinePerCommandWithAnExampleAndTheDocs() {
        String help = Cli.run("--help").out();
        assertThat(help).contains("-V, --version").contains("Example:\n  upcycle convert ").contains("docs/README.md");
        for (String command : Main.commandLine().getSubcommands().keySet()) {
            List<String> lines = help.lines().filter(l -> l.startsWith("  " + command + " ")).toList();
            assertThat(lines).as(command).hasSize(1);
            int at = help.indexOf(lines.get(0) + "\n");
            String next = help.substring(at + lines.get(0).length() + 1).lines().findFirst().orElse("");
            assertThat(next).as("the line after %s", command).matches("  [a-z].*|");
        }
    }

    @Test
    void convertOptionsAreInSectionsAndNoneIsLost() {
        String help = Cli.run("convert", "--help").out();
        assertThat(help).contains("\nExperts and routing:\n").contains("\nScaling:\n").contains("\nShared experts:\n")
                .contains("\nAttention experts and merges:\n").contains("\nOutput:\n");
        assertThat(help.indexOf("\n      --routing=")).isBetween(help.indexOf("Experts and routing:"), help.indexOf("Scaling:"));
        assertThat(help.indexOf("\n      --attention-top-k=")).isGreaterThan(help.indexOf("Attention experts and merges:"));
        String options = help.substring(0, help.indexOf("Examples:"));
        for (OptionSpec o : Main.commandLine().getSubcommands().get("convert").getCommandSpec().options()) {
            assertThat(Pattern.compile("\n(  -\\w, |      )" + Pattern.quote(o.longestName()) + "[=\\s]").matcher(options).results()
                    .count()).as(o.longestName()).isEqualTo(1);
        }
    }

    @Test
    void shellCompletionOffersTheValuesOfChoiceOptions() {
        String script = AutoComplete.bash("upcycle", Main.commandLine());
        assertThat(script).contains("topk-softmax").contains("softmax-topk")            // --routing
                .contains("exact-balanced").contains("exact-down")                          // --scaling
                .contains("qwen3-moe").contains("mixtral")                                   // --target
                .contains("bf16").contains("keep")                                           // --dtype
                .contains("gpu")                                                             // --device
                .contains("mistral").contains("qwen2")                                       // synth --family
                .doesNotContain("upcycle_moa");
        // The script 'upcycle generate-completion' prints is the same one.
        assertThat(Cli.run("generate-completion").out()).contains("topk-softmax").contains("exact-balanced");
    }
}
