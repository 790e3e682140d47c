package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.api.Test;

class MainTest {

    @Test
    void versionNamesToolDjlAndLibtorch() {
        Cli r = Cli.run("--version");
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("upcycle ").contains("DJL 0.36.0").contains("libtorch 2.7.1");
    }

    static java.util.stream.Stream<String> commands() {
        return Main.commandLine().getSubcommands().keySet().stream()
                .filter(c -> !c.equals("help") && !c.equals("generate-completion"));
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.MethodSource("commands")
    void everyCommandHasHelpWithAnExample(String command) {
        Cli r = Cli.run(command, "--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("Usage: upcycle " + command).containsPattern("Examples?:\n  upcycle " + command);
    }

    @Test
    void rootHelpListsCommandsAndExitCodes() {
        Cli r = Cli.run("--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("inspect").contains("synth").contains("Exit codes:").contains("70");
    }

    @Test
    void noCommandIsAUsageError() {
        Cli r = Cli.run();
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).startsWith("upcycle: UsageError : upcycle : ");
    }

    @Test
    void unknownOptionIsAUsageErrorOnOneLineWithAHint() {
        Cli r = Cli.run("inspect", "x", "--no-such-option");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).isEqualTo("upcycle: UsageError : upcycle inspect : Unknown option: '--no-such-option'");
        assertThat(r.err().lines().toList()).hasSize(2);
        assertThat(r.err()).contains("upcycle inspect --help");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void badOptionValueIsAUsageError() {
        Cli r = Cli.run("synth", "--family", "llama", "--layers", "two", "-o", "x");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).startsWith("upcycle: UsageError : upcycle synth : ").contains("--layers");
    }
}
