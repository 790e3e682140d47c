package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.upcycle.hostile.HostileCorpusCommands;
import dev.upcycle.hostile.HostileCorpusCommands.Case;
import dev.upcycle.testing.Cli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 14: every case of {@link HostileCorpusCommands} fails with its own one-line error and exit
 * code (3 for bad input, 2 for an option value; never 70), says nothing else (no stack trace, no
 * parser warnings or advice, not even on the process's own stderr), and leaves no output behind.
 */
class HostileCommandTest {
    private static final Duration BOUND = Duration.ofSeconds(60);

    /**
     * The train run the run-state cases copy, made on this thread before any case: DJL turns
     * autograd off only on the thread that starts the engine, and cases run on timeout threads.
     */
    @BeforeAll
    static void trainOnce() {
        HostileCorpusCommands.trainedRun();
    }

    static Stream<Case> cases() {
        return HostileCorpusCommands.all().stream();
    }

    @Test
    void theCorpusHasUniqueIdsAndCoversEveryClass() {
        List<Case> all = HostileCorpusCommands.all();
        Set<String> ids = new HashSet<>();
        for (Case c : all) {
            assertThat(ids.add(c.id())).as("duplicate id %s", c.id()).isTrue();
            assertThat(c.id()).matches("[rdos]-[a-z0-9-]+");
        }
        assertThat(all).hasSizeGreaterThanOrEqualTo(30);
        assertThat(all.stream().map(c -> c.id().charAt(0)).distinct()).containsExactlyInAnyOrder('r', 'd', 'o', 's');
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void failsWithItsOwnErrorAndLeavesNothing(Case c, @TempDir Path tmp) throws IOException {
        List<String> args = c.setup().write(tmp);
        ByteArrayOutputStream processErr = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        Cli r;
        System.setErr(new PrintStream(processErr, true, StandardCharsets.UTF_8));
        try {
            r = assertTimeoutPreemptively(BOUND, () -> Cli.run(args.toArray(String[]::new)), () -> "hangs: " + args);
        } finally {
            System.setErr(saved);
        }
        String what = c.id() + " (" + c.description() + ")\nargs: " + args + "\nstderr: " + r.err()
                + "\nprocess stderr: " + processErr;
        assertThat(r.code()).as(what).isEqualTo(c.expected().exitCode().code());
        assertThat(r.errorLine()).as(what).startsWith("upcycle: " + c.expected().name() + " : ");
        assertThat(r.err().lines().count()).as(what + "\nat most the error line and a hint").isLessThanOrEqualTo(2);
        String all = r.err() + processErr;
        assertThat(all).as(what).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("InternalError")
                .doesNotContain("[picocli").doesNotContain("JsonReadFeature").doesNotContain("Source:")
                .doesNotContain("enable `").doesNotContain("in 'reader'");
        assertThat(tmp.resolve("out")).as(what + "\na failed command leaves no output").doesNotExist();
        try (Stream<Path> s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).as(what).noneMatch(n -> n.startsWith(".out"));
        }
    }
}
