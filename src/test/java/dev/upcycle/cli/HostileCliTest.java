package dev.upcycle.cli;

import static dev.upcycle.hostile.HostileCorpus.CONVERT;
import static dev.upcycle.hostile.HostileCorpus.INSPECT;
import static dev.upcycle.hostile.HostileCorpus.VERIFY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.hostile.HostileCorpus;
import dev.upcycle.hostile.HostileCorpus.Case;
import dev.upcycle.hostile.HostileCorpus.Outcome;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 9, part 1: every command that reads a dense checkpoint, run over every case of the
 * {@link HostileCorpus}. A command joins automatically once it is registered in {@link Main}:
 * {@link #commandsThatMustReject} asks the command tree at run time.
 *
 * <p>For a rejecting command: exit 3; the first stderr line is {@code upcycle: <Kind> : ...}
 * (inspect may instead list a tensor-level kind among the errors of its JSON report); at most
 * one hint line; no stack trace; within 10 s (and the 256 MiB test heap); nothing written next
 * to the input, and for convert no output directory. Every other command/case pair must at
 * least not crash (no exit 70, no stack trace) and write nothing next to the input.
 */
class HostileCliTest {
    private static final Duration BOUND = Duration.ofSeconds(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The checkpoint-reading commands the CLI has now. */
    static Set<String> knownCommands() {
        Set<String> known = Main.commandLine().getSubcommands().keySet();
        Set<String> out = new java.util.TreeSet<>(HostileCorpus.ALL);
        out.retainAll(known);
        return out;
    }

    /** The commands, known to the CLI at run time, that must reject {@code c} with exit 3. */
    static List<String> commandsThatMustReject(Case c) {
        return knownCommands().stream().filter(c::rejects).toList();
    }

    /** Known commands for which {@code c} is valid, or invisible (inspect and NaN weights). */
    static List<String> commandsThatMustNotCrash(Case c) {
        return knownCommands().stream().filter(cmd -> !c.rejects(cmd)).toList();
    }

    static Stream<Arguments> rejections() {
        return HostileCorpus.all().stream()
                .flatMap(c -> commandsThatMustReject(c).stream().map(cmd -> Arguments.of(cmd, c)));
    }

    static Stream<Arguments> acceptances() {
        return HostileCorpus.all().stream()
                .flatMap(c -> commandsThatMustNotCrash(c).stream().map(cmd -> Arguments.of(cmd, c)));
    }

    static List<String> args(String command, Case c, Path ckpt, Path outParent) {
        List<String> a = new ArrayList<>();
        a.add(command);
        // A case that is a lone weights file (no config.json) is inspected as that file: a directory
        // of weights without a config is itself a problem inspect reports.
        boolean loneFile = command.equals(INSPECT) && c.outcome() == Outcome.ACCEPTED
                && !Files.exists(ckpt.resolve("config.json")) && Files.exists(ckpt.resolve("model.safetensors"));
        a.add(loneFile ? ckpt.resolve("model.safetensors").toString() : ckpt.toString());
        switch (command) {
            case INSPECT -> {
                if (c.outcome() != Outcome.ERROR) {
                    a.add("--json");
                }
            }
            case CONVERT -> {
                a.add("-o");
                a.add(outParent.resolve("out").toString());
            }
            case VERIFY -> {
            }
            default -> throw new IllegalArgumentException(command);
        }
        return a;
    }

    @ParameterizedTest(name = "{0} rejects {1}")
    @MethodSource("rejections")
    void rejects(String command, Case c, @TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("case");
        Path ckpt = HostileCorpus.build(c, root);
        Path outParent = Files.createDirectories(tmp.resolve("output"));
        Map<String, String> before = snapshot(root);

        Cli r = run(args(command, c, ckpt, outParent));

        String what = command + " " + c.id() + " (" + c.description() + ")\nstderr: " + r.err()
                + "\nstdout: " + cut(r.out());
        assertThat(r.code()).as(what).isEqualTo(3);
        noCrash(r, what);
        if (command.equals(INSPECT) && c.outcome() == Outcome.FINDING) {
            JsonNode doc = JSON.readTree(r.out());
            assertThat(doc.get("ok").asBoolean()).as(what).isFalse();
            assertThat(kinds(doc, "error")).as(what).contains(c.expected().name());
            assertThat(r.err()).as(what).isEmpty();
        } else if (command.equals(VERIFY) && r.err().isEmpty()) {
            // verify may report failed checks on stdout instead of one error line.
            assertThat(r.out()).as(what).contains(c.expected().name());
        } else {
            assertThat(r.errorLine()).as(what).startsWith("upcycle: " + c.expected().name() + " : ");
            assertThat(r.errorLine().length()).as(what).isLessThan(1000);
        }
        assertThat(snapshot(root)).as(what + "\nfiles next to the input").isEqualTo(before);
        if (command.equals(CONVERT)) {
            assertThat(snapshot(outParent)).as(what + "\nconvert left output behind").isEmpty();
        }
    }

    @ParameterizedTest(name = "{0} does not crash on {1}")
    @MethodSource("acceptances")
    void doesNotCrash(String command, Case c, @TempDir Path tmp) throws IOException {
        Path root = tmp.resolve("case");
        Path ckpt = HostileCorpus.build(c, root);
        Path outParent = Files.createDirectories(tmp.resolve("output"));
        Map<String, String> before = snapshot(root);

        Cli r = run(args(command, c, ckpt, outParent));

        String what = command + " " + c.id() + " (" + c.description() + ")\nstderr: " + r.err()
                + "\nstdout: " + cut(r.out());
        noCrash(r, what);
        if (command.equals(INSPECT)) {
            // The reader must accept it; inspect --json prints a report.
            assertThat(r.code()).as(what).isEqualTo(0);
            JsonNode doc = JSON.readTree(r.out());
            assertThat(doc.get("ok").asBoolean()).as(what).isTrue();
            if (c.outcome() == Outcome.WARNING) {
                assertThat(kinds(doc, "warning")).as(what).contains(c.expected().name());
            }
        }
        assertThat(snapshot(root)).as(what + "\nfiles next to the input").isEqualTo(before);
    }

    private static Cli run(List<String> args) {
        return assertTimeoutPreemptively(BOUND, () -> Cli.run(args.toArray(String[]::new)),
                () -> "not finished within " + BOUND + ": " + args);
    }

    private static void noCrash(Cli r, String what) {
        assertThat(r.code()).as(what).isNotEqualTo(70);
        assertThat(r.err()).as(what).doesNotContain("\tat ").doesNotContain("InternalError")
                .doesNotContain("Exception");
        // Issue 14: the parser's own advice, source quotes and character codes are not for users; a
        // JSON syntax error says where it is (a size or depth limit has no single place).
        assertThat(r.err() + r.out()).as(what).doesNotContain("JsonReadFeature").doesNotContain("Source:")
                .doesNotContain("enable `").doesNotContain("(code ");
        boolean limit = r.errorLine().contains(" more than ") || r.errorLine().contains(" longer than ");
        if (r.errorLine().contains("not valid JSON") && !limit) {
            assertThat(r.errorLine()).as(what).containsPattern("\\(line \\d+, column \\d+\\)");
        }
        assertThat(r.err().lines().count()).as(what + "\nat most an error line and a hint").isLessThanOrEqualTo(2);
        assertThat(r.out()).as(what).doesNotContain("\tat ");
    }

    private static List<String> kinds(JsonNode doc, String severity) {
        List<String> out = new ArrayList<>();
        doc.get("problems").forEach(p -> {
            if (p.get("severity").asText().equals(severity)) {
                out.add(p.get("kind").asText());
            }
        });
        return out;
    }

    private static String cut(String s) {
        return s.length() > 2000 ? s.substring(0, 2000) + "..." : s;
    }

    /** Relative path → type, size and modification time, links not followed. */
    static Map<String, String> snapshot(Path root) {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                String type = a.isSymbolicLink() ? "link" : a.isDirectory() ? "dir" : "file";
                m.put(root.relativize(p).toString(), type + " " + (a.isDirectory() ? "" : a.size() + " ")
                        + a.lastModifiedTime().toMillis());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        m.remove("");
        return m;
    }
}
