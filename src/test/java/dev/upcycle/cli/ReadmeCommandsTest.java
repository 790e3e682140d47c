package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.upcycle.recipe.Recipe;
import dev.upcycle.recipe.RecipeParser;
import dev.upcycle.recipe.Step;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every shell block of README.md runs as written, in order, with bash, in a scratch directory
 * holding what a fresh clone holds for them ({@code scripts/}, {@code recipes/}, {@code examples/},
 * {@code test-fixtures/}). One stand-in: {@code scripts/upcycle} there runs this build's classes
 * (the real one builds {@code target/upcycle.jar} with Maven first). A block whose fence is
 * preceded by {@code <!-- readme-test: skip: REASON -->} is not run, but each of its commands must
 * still make sense: an upcycle command must parse (options, values, required parameters), the
 * recipes it runs must pass the checks {@code run} makes before its first step, and the scripts it
 * names must exist, with their own upcycle commands checked the same way.
 */
class ReadmeCommandsTest {
    private static final Path README = Paths.get("README.md");
    private static final Pattern SKIP = Pattern.compile("<!-- readme-test: skip: (.+) -->");
    /** The marker each run block's wrapper prints when a command fails: its index and exit status. */
    private static final Pattern FAILED = Pattern.compile("@@readme-failed (\\d+) (\\d+)");
    /** Commit the fake Hugging Face cache's {@code refs/main} names. */
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path tmp;

    /** A command as written: its first line in README.md and its text, continuation lines included. */
    record Command(int line, String text) {
    }

    /** A fenced shell block: the line of its fence, the heading above it, why it is skipped (or null). */
    record Block(int line, String heading, String skip, List<Command> commands) {
        String where() {
            return "README.md line " + line + " (" + heading + ")";
        }
    }

    static List<Block> blocks() throws IOException {
        List<String> lines = Files.readAllLines(README, StandardCharsets.UTF_8);
        List<Block> blocks = new ArrayList<>();
        String heading = "top";
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.startsWith("#")) {
                heading = l;
            }
            if (!l.equals("```sh") && !l.equals("```bash")) {
                continue;
            }
            Matcher skip = i > 0 ? SKIP.matcher(lines.get(i - 1).trim()) : SKIP.matcher("");
            List<Command> commands = new ArrayList<>();
            int fence = i;
            StringBuilder current = null;
            int start = 0;
            for (i++; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
                String text = lines.get(i);
                if (current == null) {
                    if (text.isBlank() || text.trim().startsWith("#")) {
                        continue;
                    }
                    current = new StringBuilder();
                    start = i + 1;
                }
                current.append(current.length() == 0 ? "" : "\n").append(text);
                if (!withoutComment(text).endsWith("\\")) {
                    commands.add(new Command(start, current.toString()));
                    current = null;
                }
            }
            blocks.add(new Block(fence + 1, heading, skip.matches() ? skip.group(1) : null, List.copyOf(commands)));
        }
        return blocks;
    }

    private static String withoutComment(String line) {
        return line.replaceFirst("\\s+#.*$", "").stripTrailing();
    }

    @Test
    void markersAreFewAndEachGivesItsReason() throws IOException {
        List<Block> blocks = blocks();
        assertThat(blocks.stream().filter(b -> b.skip() == null).count()).isGreaterThanOrEqualTo(10);
        assertThat(blocks.stream().filter(b -> b.skip() != null)).hasSizeLessThanOrEqualTo(2)
                .allSatisfy(b -> assertThat(b.skip()).as(b.where()).hasSizeGreaterThan(20));
        // A marker that is not right above a fence would silently skip nothing: every marker counts.
        long markers = Files.readAllLines(README).stream().filter(l -> l.contains("readme-test:")).count();
        assertThat(markers).isEqualTo(blocks.stream().filter(b -> b.skip() != null).count());
    }

    @Test
    void skippedCommandsParseAndWhatTheyRunExists() throws IOException {
        for (Block b : blocks()) {
            if (b.skip() == null) {
                continue;
            }
            for (Command c : b.commands()) {
                check(words(c.text()), b.where() + ", command at line " + c.line() + ": " + c.text());
            }
        }
    }

    /** Checks one command without running it. */
    private static void check(List<String> words, String where) throws IOException {
        for (String w : words) {
            Matcher script = Pattern.compile("^(?:.*\\$\\()?((?:scripts|examples)/[\\w./-]+)\\)?$").matcher(w);
            if (script.matches()) {
                Path file = Paths.get(script.group(1));
                assertThat(Files.isRegularFile(file) && Files.isExecutable(file)).as(where + ": " + file).isTrue();
                if (!file.toString().equals("scripts/upcycle")) {
                    // What the script runs of the tool is checked as if it were written here.
                    for (String line : Files.readAllLines(file)) {
                        if (line.trim().startsWith("scripts/upcycle ")) {
                            check(words(line.trim().replace("\"$@\"", "")), where + " -> " + file + ": " + line.trim());
                        }
                    }
                }
            }
            if (w.startsWith("-Dtest=")) {
                PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + w.substring(7).replace("'", "")
                        + ".java");
                try (Stream<Path> s = Files.walk(Paths.get("src/test/java"))) {
                    assertThat(s.anyMatch(p -> m.matches(p.getFileName()))).as(where + ": no test " + w).isTrue();
                }
            }
        }
        if (!words.isEmpty() && words.get(0).equals("scripts/upcycle")) {
            List<String> args = words.subList(1, words.size());
            CommandLine.ParseResult parsed;
            try {
                parsed = Main.commandLine().parseArgs(args.toArray(String[]::new));
            } catch (CommandLine.ParameterException e) {
                throw new AssertionError(where + ": " + e.getMessage(), e);
            }
            if (parsed.subcommand() != null && parsed.subcommand().commandSpec().name().equals("run")) {
                checkRecipes(parsed.subcommand(), where);
            }
        }
    }

    /** The checks {@code upcycle run} makes before its first step: every step parses as its command. */
    private static void checkRecipes(CommandLine.ParseResult run, String where) {
        List<String> sets = run.matchedOptionValue("--set", List.of());
        Map<String, String> overrides = RunCommand.overrides(sets);
        List<Path> recipes = run.matchedPositionalValue(0, List.of());
        for (Path file : recipes) {
            try {
                Recipe recipe = RecipeParser.read(file, overrides);
                for (Step step : recipe.steps()) {
                    StepArgs.of(recipe, step);
                }
            } catch (RuntimeException e) {
                throw new AssertionError(where + ": recipe " + file + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * The words of a command as bash splits them, for the plain commands the README holds: quotes,
     * backslash-newline continuations and trailing comments; nothing is expanded.
     */
    static List<String> words(String command) {
        List<String> out = new ArrayList<>();
        StringBuilder w = null;
        char quote = 0;
        for (int i = 0; i < command.length(); i++) {
            char c = command.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    w.append(c);
                }
            } else if (c == '\\' && i + 1 < command.length() && command.charAt(i + 1) == '\n') {
                i++;
            } else if (c == '\'' || c == '"') {
                quote = c;
                w = w == null ? new StringBuilder() : w;
            } else if (Character.isWhitespace(c)) {
                if (w != null) {
                    out.add(w.toString());
                    w = null;
                }
            } else if (c == '#' && w == null) {
                int nl = command.indexOf('\n', i);
                i = nl < 0 ? command.length() : nl;
            } else {
                w = w == null ? new StringBuilder() : w;
                w.append(c);
            }
        }
        if (w != null) {
            out.add(w.toString());
        }
        return out;
    }

    @Test
    void everyCommandRunsAsWrittenInOrder() throws Exception {
        Path work = Files.createDirectories(tmp.resolve("clone"));
        for (String dir : List.of("scripts", "recipes", "examples", "test-fixtures")) {
            copyTree(Paths.get(dir), work.resolve(dir));
        }
        launcher(work.resolve("scripts/upcycle"));
        Path hub = hubCache(tmp.resolve("hf-cache"));
        Map<String, String> env = new LinkedHashMap<>();
        env.put("HF_HUB_CACHE", hub.toString());
        // Each command is its own JVM; one libtorch thread each keeps the two-core machine from
        // spinning idle OpenMP threads against the rest of the suite. Results do not depend on it.
        env.put("OMP_NUM_THREADS", "1");
        int ran = 0;
        for (Block b : blocks()) {
            if (b.skip() == null) {
                runBlock(work, b, env);
                ran += b.commands().size();
            }
        }
        assertThat(ran).isGreaterThanOrEqualTo(30);
        // What the task commands promise is there.
        assertThat(work.resolve("runs/report.md")).isRegularFile();
        assertThat(Files.readString(work.resolve("runs/report.md"))).contains("**Result:** lowest eval loss");
        assertThat(work.resolve("runs/report-loss.png")).isRegularFile();
        assertThat(work.resolve("out/bam/config.json")).isRegularFile();
    }

    private static void runBlock(Path work, Block b, Map<String, String> env) throws Exception {
        StringBuilder script = new StringBuilder("cd '" + work + "' || exit 99\n");
        for (int i = 0; i < b.commands().size(); i++) {
            script.append(b.commands().get(i).text()).append('\n')
                    .append("__s=$?; if [ $__s -ne 0 ]; then echo \"@@readme-failed ").append(i)
                    .append(" $__s\"; exit 97; fi\n");
        }
        Path log = work.resolveSibling("block-" + b.line() + ".log");
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("UPCYCLE_JAVA_OPTS");
        pb.environment().putAll(env);
        Process p = pb.start();
        boolean done = p.waitFor(300, TimeUnit.SECONDS);
        if (!done) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(log);
        if (done && p.exitValue() == 0) {
            assertThat(out).as(b.where() + " printed a warning about a router that cannot learn:\n" + out)
                    .doesNotContain("receives no gradient");
            return;
        }
        Matcher m = FAILED.matcher(out);
        String what = !done ? "did not finish within 300 s"
                : m.find() ? "command at line " + b.commands().get(Integer.parseInt(m.group(1))).line() + " exited "
                        + m.group(2) + ":\n  " + b.commands().get(Integer.parseInt(m.group(1))).text()
                : "exited " + p.exitValue();
        List<String> tail = out.lines().toList();
        fail(b.where() + ": " + what + "\nits output (last 40 lines):\n"
                + String.join("\n", tail.subList(Math.max(0, tail.size() - 40), tail.size())));
    }

    /** {@code scripts/upcycle} for the scratch clone: this build's classes, the options the real one sets. */
    private static void launcher(Path file) throws IOException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Files.writeString(file, "#!/usr/bin/env bash\n"
                + "# ReadmeCommandsTest's scripts/upcycle: the test's classpath instead of target/upcycle.jar.\n"
                + "export MALLOC_MMAP_THRESHOLD_=\"${MALLOC_MMAP_THRESHOLD_:-1048576}\"\n"
                + "exec '" + java + "' -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx512m"
                + " -XX:ErrorFile=\"${TMPDIR:-/tmp}/upcycle-hs_err_pid%p.log\" -cp '"
                + System.getProperty("java.class.path") + "' dev.upcycle.cli.Main \"$@\"\n", StandardCharsets.UTF_8);
        assertThat(file.toFile().setExecutable(true)).isTrue();
    }

    /**
     * A Hugging Face cache holding {@code Qwen/Qwen3-0.6B} for the README's cache commands: a small
     * synth Qwen3 model as the snapshot {@code refs/main} names.
     */
    private static Path hubCache(Path hub) throws IOException {
        Path repo = hub.resolve("models--Qwen--Qwen3-0.6B");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), COMMIT);
        Files.createDirectories(repo.resolve("snapshots"));
        Cli r = Cli.run("synth", "--family", "qwen3", "-o", repo.resolve("snapshots/" + COMMIT).toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return hub;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
