package dev.upcycle.hostile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Hostile command lines of issue 14: what a user hands the tool besides the model checkpoint
 * (training and evaluation data, tokenizers, recipes, the state a train run leaves behind, option
 * values). Each case writes its files into a fresh directory and returns the arguments of one
 * command; the command must fail with exactly {@link Case#expected}'s one-line error and exit code,
 * and must leave no {@code out} directory behind. The checkpoint corpus is {@link HostileCorpus}.
 *
 * <p>Prefixes: {@code r} recipes, {@code d} data and tokenizers, {@code o} option values,
 * {@code s} run state (trainer-state.json, optimizer state, metrics.jsonl).
 */
public final class HostileCorpusCommands {
    /** The tiny byte-level model every case runs. */
    public static final Path MODEL = Path.of("test-fixtures/tiny-llama");
    static final Path TEXT = Path.of("test-fixtures/corpus/valid.txt");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Writes a case's files under {@code dir} and returns the command line. */
    @FunctionalInterface
    public interface Setup {
        List<String> write(Path dir) throws IOException;
    }

    /**
     * One hostile command line.
     *
     * @param id          short stable name; its prefix says the class of input
     * @param description what is wrong with it
     * @param expected    the error the command must name (its exit code follows from the kind)
     * @param setup       writes the inputs, returns the arguments
     */
    public record Case(String id, String description, ErrorKind expected, Setup setup) {
        @Override
        public String toString() {
            return id;
        }
    }

    private HostileCorpusCommands() {
    }

    public static List<Case> all() {
        List<Case> c = new ArrayList<>();
        // ---- recipes: bounded expansion, only regular files --------------------------------------------
        c.add(new Case("r-vars-doubling", "30 variables, each twice the one before (a 1 KB file, 1 TB expanded)",
                ErrorKind.InvalidRecipe, d -> run(d, recipe(d, doubling(30), "  - inspect: {path: \"${v29}\"}\n"))));
        c.add(new Case("r-value-doubling-in-step", "a step value that repeats a 1 KB variable 100 times",
                ErrorKind.InvalidRecipe, d -> run(d, recipe(d, "vars:\n  a: " + "x".repeat(1024) + "\n",
                        "  - inspect: {path: \"" + "${a}".repeat(100) + "\"}\n"))));
        c.add(new Case("r-many-values", "40 keys of 60 KB each: every value under its cap, the recipe over 1 MiB",
                ErrorKind.InvalidRecipe, d -> {
                    StringBuilder steps = new StringBuilder();
                    for (int i = 0; i < 40; i++) {
                        steps.append("  - inspect: {path: \"").append("${a}".repeat(60)).append("\"}\n");
                    }
                    return run(d, recipe(d, "vars:\n  a: " + "y".repeat(1000) + "\n", steps.toString()));
                }));
        c.add(new Case("r-recipe-is-dev-zero", "the recipe path is /dev/zero (endless, no size)", ErrorKind.InvalidRecipe,
                d -> List.of("run", "/dev/zero")));
        c.add(new Case("r-recipe-is-dev-urandom", "the recipe path is /dev/urandom (endless, reports size 0)",
                ErrorKind.InvalidRecipe, d -> List.of("run", "/dev/urandom")));
        c.add(new Case("r-recipe-is-fifo", "the recipe path is a named pipe nobody writes to", ErrorKind.InvalidRecipe,
                d -> List.of("run", fifo(d.resolve("pipe.yaml")).toString())));
        c.add(new Case("r-set-unbalanced-quote", "--set with an odd quote: used as given, no parser warnings",
                ErrorKind.NoCheckpoint, d -> List.of("run", recipe(d, "", "  - inspect: {path: \"${m}\"}\n").toString(),
                        "--set", "m=" + d.resolve("\"missing"))));
        c.add(new Case("r-set-without-equals", "--set NAME with no value", ErrorKind.InvalidOption,
                d -> List.of("run", recipe(d, "", "  - inspect: {path: x}\n").toString(), "--set", "model")));
        c.add(new Case("r-yaml-flow-unclosed", "a flow map never closed", ErrorKind.InvalidRecipe,
                d -> run(d, recipe(d, "", "  - inspect: {path: x\n"))));

        // ---- data and tokenizers ----------------------------------------------------------------------
        c.add(new Case("d-train-empty-data", "train on an empty file", ErrorKind.InvalidData,
                d -> train(d, Files.write(d.resolve("empty.txt"), new byte[0]))));
        c.add(new Case("d-train-one-byte", "train on a 1-byte file", ErrorKind.InvalidData,
                d -> train(d, Files.writeString(d.resolve("one.txt"), "a"))));
        c.add(new Case("d-train-shorter-than-seq-len", "16 bytes of data, --seq-len 16 needs 17", ErrorKind.InvalidData,
                d -> train(d, Files.writeString(d.resolve("short.txt"), "0123456789abcdef"))));
        c.add(new Case("d-train-eval-data-one-byte", "--eval-data of 1 byte (nothing to predict)", ErrorKind.InvalidData,
                d -> plus(train(d, TEXT), "--eval-data", Files.writeString(d.resolve("e.txt"), "a").toString())));
        c.add(new Case("d-eval-one-byte", "eval on a 1-byte file", ErrorKind.InvalidData,
                d -> List.of("eval", MODEL.toString(), "--data", Files.writeString(d.resolve("one.txt"), "a").toString())));
        c.add(new Case("d-eval-bin-odd-size", "a .bin of 3 bytes is not whole uint16 ids", ErrorKind.InvalidData,
                d -> List.of("eval", MODEL.toString(), "--data", Files.write(d.resolve("x.bin"), new byte[3]).toString())));
        c.add(new Case("d-not-utf8-with-tokenizer", "Latin-1 text through a tokenizer", ErrorKind.InvalidData,
                d -> List.of("eval", MODEL.toString(), "--data",
                        Files.write(d.resolve("latin1.txt"), "caf\u00e9 cr\u00e8me".getBytes(StandardCharsets.ISO_8859_1)).toString(),
                        "--tokenizer", tokenizer(d).toString())));
        c.add(new Case("d-tokenizer-in-model-malformed", "the model's own tokenizer.json is not JSON",
                ErrorKind.InvalidTokenizer, d -> {
                    Path m = copyModel(d);
                    Files.writeString(m.resolve("tokenizer.json"), "{\"version\": \"1.0\", \"model\": ");
                    return List.of("eval", m.toString(), "--data", TEXT.toString());
                }));
        c.add(new Case("d-tokenizer-option-malformed", "--tokenizer names a JSON file that is no tokenizer",
                ErrorKind.InvalidTokenizer, d -> List.of("eval", MODEL.toString(), "--data", TEXT.toString(),
                        "--tokenizer", Files.writeString(d.resolve("t.json"), "{\"model\": 42}").toString())));

        // ---- option values -------------------------------------------------------------------------------
        for (String v : new String[] {"NaN", "Infinity", "-0.5"}) {
            c.add(new Case("o-max-loss-" + v.toLowerCase(java.util.Locale.ROOT).replace("-0.5", "negative"),
                    "--max-loss " + v, ErrorKind.InvalidOption,
                    d -> List.of("eval", MODEL.toString(), "--data", TEXT.toString(), "--max-loss", v)));
        }

        // ---- the state a train run leaves ---------------------------------------------------------------------
        c.add(new Case("s-state-step-2pow40", "trainer-state.json step 2^40 (wrapped to 0 as an int)",
                ErrorKind.InvalidRunState, d -> resume(d, s -> s.put("step", 1L << 40))));
        c.add(new Case("s-state-step-int-overflow", "step 2^31 + 7 (wrapped to a negative int)",
                ErrorKind.InvalidRunState, d -> resume(d, s -> s.put("step", (1L << 31) + 7))));
        c.add(new Case("s-state-step-negative", "step -5", ErrorKind.InvalidRunState,
                d -> resume(d, s -> s.put("step", -5))));
        c.add(new Case("s-state-step-fraction", "step 1.5", ErrorKind.InvalidRunState,
                d -> resume(d, s -> s.put("step", 1.5))));
        c.add(new Case("s-state-step-missing", "no step", ErrorKind.InvalidRunState, d -> resume(d, s -> s.remove("step"))));
        c.add(new Case("s-state-position-negative", "data_position -1", ErrorKind.InvalidRunState,
                d -> resume(d, s -> s.put("data_position", -1))));
        c.add(new Case("s-state-position-string", "data_position \"0\"", ErrorKind.InvalidRunState,
                d -> resume(d, s -> s.put("data_position", "0"))));
        c.add(new Case("s-state-seed-missing", "rng without seed", ErrorKind.InvalidRunState,
                d -> resume(d, s -> ((ObjectNode) s.get("rng")).remove("seed"))));
        c.add(new Case("s-state-loss-nan", "a metrics line with loss \"NaN\"", ErrorKind.InvalidRunState,
                d -> resume(d, s -> ((ObjectNode) s.get("metrics").get(0)).put("loss", "NaN"))));
        c.add(new Case("s-state-metric-beyond-step", "a metrics line of step 99 in a state at step 1",
                ErrorKind.InvalidRunState, d -> resume(d, s -> ((ObjectNode) s.get("metrics").get(0)).put("step", 99))));
        c.add(new Case("s-state-not-json", "trainer-state.json with a NaN literal", ErrorKind.InvalidRunState,
                d -> resumeText(d, "{\"step\": 1, \"data_position\": NaN}")));
        c.add(new Case("s-optimizer-step-differs", "optimizer.safetensors says step 7, the trainer state 1",
                ErrorKind.InvalidRunState, d -> {
                    List<String> args = resume(d, s -> { });
                    Path opt = d.resolve("ckpt/optimizer.safetensors");
                    byte[] b = Files.readAllBytes(opt);
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"step\"\\s*:\\s*\"1\"")
                            .matcher(new String(b, StandardCharsets.ISO_8859_1));
                    if (!m.find()) {
                        throw new IllegalStateException("no step 1 in the optimizer metadata");
                    }
                    b[m.end() - 2] = '7';
                    Files.write(opt, b);
                    return args;
                }));
        c.add(new Case("s-metrics-not-json", "report on a run whose metrics.jsonl has a broken line",
                ErrorKind.InvalidRunState, d -> report(d, lines -> lines.set(0, "{\"step\": 1, \"loss\": "))));
        c.add(new Case("s-metrics-loss-missing", "report on a metrics line without loss", ErrorKind.InvalidRunState,
                d -> report(d, lines -> lines.set(0, lines.get(0).replaceFirst("\"loss\":[^,]*,", "")))));
        c.add(new Case("s-report-not-a-run", "report on a directory that no train run wrote", ErrorKind.InvalidRunState,
                d -> List.of("report", Files.createDirectories(d.resolve("empty")).toString(), "-o",
                        d.resolve("out/report.md").toString())));
        return List.copyOf(c);
    }

    /** The real train run (1 step, checkpointed) that the run-state cases copy; made once per JVM. */
    public static Path trainedRun() {
        return Run.get();
    }

    // ---- recipes ---------------------------------------------------------------------------------------------

    private static String doubling(int n) {
        StringBuilder b = new StringBuilder("vars:\n  v0: " + "z".repeat(1000) + "\n");
        for (int i = 1; i < n; i++) {
            b.append("  v").append(i).append(": \"${v").append(i - 1).append("}${v").append(i - 1).append("}\"\n");
        }
        return b.toString();
    }

    private static Path recipe(Path dir, String vars, String steps) throws IOException {
        return Files.writeString(dir.resolve("recipe.yaml"), vars + "steps:\n" + steps);
    }

    private static List<String> run(Path dir, Path recipe) {
        return List.of("run", recipe.toString());
    }

    private static Path fifo(Path p) throws IOException {
        try {
            int code = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start().waitFor();
            if (code != 0) {
                throw new IOException("mkfifo exited " + code);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return p;
    }

    // ---- data ------------------------------------------------------------------------------------------------

    /** Training that would take seconds on good data: 2 steps of 1 x 16 tokens into {@code dir/out}. */
    private static List<String> train(Path dir, Path data) {
        return List.of("train", MODEL.toString(), "--data", data.toString(), "-o", dir.resolve("out").toString(),
                "--steps", "2", "--batch", "1", "--seq-len", "16", "--save-every", "0", "-q");
    }

    private static List<String> plus(List<String> a, String... more) {
        List<String> out = new ArrayList<>(a);
        out.addAll(List.of(more));
        return out;
    }

    private static Path tokenizer(Path dir) throws IOException {
        return Files.writeString(dir.resolve("tokenizer.json"), dev.upcycle.data.TokenDataTestAccess.json());
    }

    private static Path copyModel(Path dir) throws IOException {
        Path m = Files.createDirectories(dir.resolve("model"));
        for (String f : List.of("config.json", "model.safetensors")) {
            Files.copy(MODEL.resolve(f), m.resolve(f));
        }
        return m;
    }

    // ---- run state ------------------------------------------------------------------------------------------

    /** {@code train --resume} from a copy of a real step-1 checkpoint whose trainer-state.json is edited. */
    private static List<String> resume(Path dir, Consumer<ObjectNode> edit) throws IOException {
        Path ckpt = dir.resolve("ckpt");
        copyTree(Run.get().resolve("checkpoints/step-1"), ckpt);
        ObjectNode state = (ObjectNode) JSON.readTree(ckpt.resolve("trainer-state.json").toFile());
        edit.accept(state);
        Files.writeString(ckpt.resolve("trainer-state.json"), JSON.writeValueAsString(state));
        return List.of("train", MODEL.toString(), "--data", TEXT.toString(), "-o", dir.resolve("out").toString(),
                "--steps", "3", "--batch", "1", "--seq-len", "16", "--save-every", "1", "-q", "--resume", ckpt.toString());
    }

    private static List<String> resumeText(Path dir, String text) throws IOException {
        List<String> args = resume(dir, s -> { });
        Files.writeString(dir.resolve("ckpt/trainer-state.json"), text);
        return args;
    }

    /** {@code report} on a copy of a real run whose metrics.jsonl lines are edited. */
    private static List<String> report(Path dir, Consumer<List<String>> edit) throws IOException {
        Path run = Files.createDirectories(dir.resolve("run"));
        Files.copy(Run.get().resolve("train-config.json"), run.resolve("train-config.json"));
        List<String> lines = new ArrayList<>(Files.readAllLines(Run.get().resolve("metrics.jsonl")));
        edit.accept(lines);
        Files.write(run.resolve("metrics.jsonl"), lines);
        return List.of("report", run.toString(), "-o", dir.resolve("out/report.md").toString());
    }

    /** One real train run (1 step, checkpointed), made once per JVM. */
    static final class Run {
        private static Path dir;

        private Run() {
        }

        static synchronized Path get() {
            if (dir != null) {
                return dir;
            }
            try {
                Path root = Files.createTempDirectory("upcycle-hostile-run");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> HostileCorpus.deleteTree(root)));
                Path out = root.resolve("run");
                Cli run = Cli.run("train", MODEL.toString(),
                        "--data", TEXT.toString(), "-o", out.toString(), "--steps", "1", "--batch", "1", "--seq-len", "16",
                        "--save-every", "1", "-q");
                if (run.code() != 0) {
                    throw new IllegalStateException("train failed (" + run.code() + "): " + run.err());
                }
                dir = out;
                return dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
