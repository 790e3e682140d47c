package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.verify.CheckResult;
import dev.upcycle.verify.FunctionalResult;
import dev.upcycle.verify.IntegrityChecks;
import dev.upcycle.verify.ProvenanceCheck;
import dev.upcycle.verify.Verifier;
import dev.upcycle.verify.VerifyReport;
import dev.upcycle.verify.WeightResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code upcycle verify}: integrity checks and, with {@code --against}, functional equivalence. */
@Command(name = "verify", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Check a checkpoint: every file of upcycle.json with its size and SHA-256, every header, "
                + "the index, config.json against the tensors, and NaN/Inf in every floating tensor.",
            "With --against, first compare every tensor with what the conversion's plan (from upcycle.json, else "
                + "derived from both configs) says it must be: copies byte for byte, scaled experts rounded once, "
                + "merged tensors as their mean, zeros; routers and noised experts are listed as unchecked. Then "
                + "run the dense source and this model side by side, one layer's weights at a time, "
                + "on fixed token sequences (lengths 1, 7 and --tokens, longer than any sliding window) and compare "
                + "the hidden states after every layer and the final logits.",
            "Default tolerance (relative, max|a-b|/max|b|): 1e-5 when the plan is exact and every weight equals the "
                + "dense model's; else 1e-5 for F32 weights, 1e-3 when either model has "
                + "F16 weights, 1e-2 when either has BF16 weights (the runtime computes in FP32; the looser "
                + "bounds cover weights rounded to the coarser dtype). An approximate plan is held to twice its "
                + "predicted error plus that default, and one that predicts no error is reported, not held to a "
                + "bound, unless --strict.",
            "Exits 1 when a check fails on an otherwise valid checkpoint (a file differs from upcycle.json, the "
                + "weights differ from the plan, the functional check exceeds its bound); 3 when the input is malformed (bad header or index, config.json "
                + "disagreeing with the tensors, NaN/Inf weights) or cannot be checked at all, after printing the report."},
        footerHeading = "%nExample:%n",
        footer = "  upcycle verify out/mixtral --against test-fixtures/tiny-llama --json")
final class VerifyCommand implements Callable<Integer>, KeyFigures {

    private VerifyReport report;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "PATH", descriptionKey = "dir", description = "The checkpoint directory to verify, a single .safetensors file, or a model id ORG/NAME[@REVISION] in the Hugging Face cache.")
    Path dir;

    @Option(names = "--against", paramLabel = "DENSE_DIR",
            description = "The dense checkpoint this model was converted from (a directory or a model id); enables the "
                    + "weights and functional checks. Repeat it to give every seed of a merge, in order.")
    java.util.List<Path> against;

    @Option(names = "--strict", description = "Hold the functional check to the exact bound even when the plan says "
            + "step 0 is approximate or not function-preserving.")
    boolean strict;

    @Option(names = "--tolerance", paramLabel = "X",
            description = "Relative tolerance of the functional check (default: by weight dtype, see above).")
    Double tolerance;

    @Option(names = "--tokens", paramLabel = "N", defaultValue = "64",
            description = "Length of the longest test sequence (default: ${DEFAULT-VALUE}; raised past a sliding window).")
    int tokens;

    @Option(names = "--json", description = "Print one JSON document instead of the report.")
    boolean json;

    @Override
    public Integer call() {
        dir = ModelArgs.dir(dir);
        against = against == null ? java.util.List.of() : against.stream().map(ModelArgs::dir).toList();
        if (!against.isEmpty() && java.nio.file.Files.isRegularFile(dir)) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--against",
                    "the functional check runs a model directory (config.json and weights), not a single file",
                    "give the directory of " + dir.getFileName());
        }
        if (tolerance != null && !(tolerance >= 0 && Double.isFinite(tolerance))) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tolerance", tolerance + " must be >= 0");
        }
        if (tokens < 1 || tokens > 1 << 16) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tokens", tokens + " must be in 1..65536");
        }
        ProgressBar bar = ProgressBar.onTerminal(spec.commandLine().getErr(), "verify",
                () -> IntegrityChecks.bytesToRead(dir) + (against.isEmpty() ? 0 : ProvenanceCheck.bytesToCompare(dir)),
                json);
        try {
            report = new Verifier(FamilyRegistry.builtIn()).verify(dir, against, tolerance, tokens, strict,
                    bar == null ? bytes -> { } : bar::advance);
        } finally {
            if (bar != null) {
                bar.finish();
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.pretty(json(report)));
        } else {
            out.print(text(report));
        }
        out.flush();
        var bad = report.inputError();
        if (bad.isPresent()) {
            // Malformed input is exit 3 for every command; the report above still lists every check.
            CheckResult.InputError e = bad.get();
            spec.commandLine().getErr().println("upcycle: " + e.kind() + " : " + e.where() + " : " + e.why());
            return ExitCode.BAD_INPUT.code();
        }
        return report.passed() ? ExitCode.OK.code() : ExitCode.CHECK_FAILED.code();
    }

    static String text(VerifyReport r) {
        StringBuilder b = new StringBuilder("verify " + r.checkpoint() + "\n");
        for (CheckResult c : r.checks()) {
            b.append(String.format(Locale.ROOT, "  %-4s  %-10s  %s%n", c.status(), c.name(), c.summary()));
            for (String p : c.problems()) {
                b.append("                    - ").append(p).append('\n');
            }
        }
        FunctionalResult f = r.functional();
        if (f != null) {
            b.append(String.format(Locale.ROOT, "  relative error per layer (sequences of %s tokens):%n", f.lengths()));
            for (int i = 0; i < f.layerErrors().size(); i++) {
                b.append(String.format(Locale.ROOT, "    layer %-4d %.3e%s%n", i, f.layerErrors().get(i),
                        i == f.firstDivergent() ? "  <- first divergence" : ""));
            }
            b.append(String.format(Locale.ROOT, "    logits     %.3e%n", f.logitsError()));
            if (f.verdict() != null) {
                b.append(String.format(Locale.ROOT, "  planned step 0: %s%s; measured %.3e%n", f.verdict(),
                        f.verdict().equals("exact") ? "" : ", predicted error " + (f.predictedError() == null
                                ? "none stated" : String.format(Locale.ROOT, "%.3e", f.predictedError())),
                        f.worstError()));
            }
        }
        b.append(r.passed() ? "result: every check passed\n" : "result: " + r.failures() + " check(s) failed\n");
        return b.toString();
    }

    static ObjectNode json(VerifyReport r) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        // ok: every check passed (exit 0); a malformed input also exits 3 with ok false.
        ObjectNode root = Json.document(r.passed() && r.inputError().isEmpty());
        root.put("checkpoint", r.checkpoint());
        ArrayNode checks = root.putArray("checks");
        for (CheckResult c : r.checks()) {
            ObjectNode o = checks.addObject();
            o.put("name", c.name());
            o.put("status", c.status().name().toLowerCase(Locale.ROOT));
            o.put("summary", c.summary());
            ArrayNode p = o.putArray("problems");
            c.problems().forEach(p::add);
        }
        FunctionalResult fr = r.functional();
        if (fr != null) {
            ObjectNode o = root.putObject("functional");
            o.put("against", fr.against());
            o.put("ok", fr.passed());
            o.set("tolerance", number(fr.tolerance()));
            o.put("tolerance_basis", fr.toleranceBasis());
            ArrayNode lengths = o.putArray("sequence_lengths");
            fr.lengths().forEach(lengths::add);
            ArrayNode errors = o.putArray("layer_errors");
            fr.layerErrors().forEach(e -> errors.add(number(e)));
            o.set("logits_error", number(fr.logitsError()));
            if (fr.firstDivergent() >= 0) {
                o.put("first_divergent_layer", fr.firstDivergent());
            } else {
                o.putNull("first_divergent_layer");
            }
            o.put("planned_verdict", fr.verdict());
            o.set("predicted_error", fr.predictedError() == null ? f.nullNode() : number(fr.predictedError()));
            o.set("measured_error", number(fr.worstError()));
            o.put("bounded", fr.bounded());
        }
        WeightResult w = r.weights();
        if (w != null) {
            ObjectNode o = root.putObject("weights");
            o.put("ok", w.passed());
            o.put("plan_basis", w.planBasis());
            o.put("plan_options", w.options());
            o.put("planned_verdict", w.fidelity() == null ? null
                    : w.fidelity().verdict().name().toLowerCase(Locale.ROOT).replace('_', ' '));
            o.put("checked_tensors", w.checked());
            o.put("checked_bytes", w.bytes());
            o.put("weights_unchanged", w.allCopies());
            ArrayNode un = o.putArray("unchecked");
            for (WeightResult.Unchecked u : w.unchecked()) {
                un.addObject().put("tensor", u.tensor()).put("reason", u.reason());
            }
            if (w.difference() != null) {
                WeightResult.Difference d = w.difference();
                o.putObject("first_difference").put("tensor", d.tensor()).put("index", d.index())
                        .put("source", d.source());
                d.position().forEach(((ObjectNode) o.get("first_difference")).putArray("position")::add);
                ((ObjectNode) o.get("first_difference")).set("expected", number(d.expected()));
                ((ObjectNode) o.get("first_difference")).set("actual", number(d.actual()));
            } else {
                o.putNull("first_difference");
            }
            o.put("mismatch", w.mismatch());
        }
        return root;
    }

    /** JSON has no NaN or Inf: a non-finite error (NaN in an output) is written as null. */
    private static com.fasterxml.jackson.databind.JsonNode number(double v) {
        return Double.isFinite(v) ? JsonNodeFactory.instance.numberNode(v) : JsonNodeFactory.instance.nullNode();
    }

    @Override
    public java.util.Map<String, Object> jsonFigures() {
        if (report == null) {
            return java.util.Map.of();
        }
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("checks_passed", (long) (report.checks().size() - report.failures()));
        m.put("checks", (long) report.checks().size());
        if (report.functional() != null && Double.isFinite(report.functional().logitsError())) {
            m.put("logits_error", report.functional().logitsError());
        }
        return m;
    }

    @Override
    public java.util.Map<String, String> keyFigures() {
        if (report == null) {
            return java.util.Map.of();
        }
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        long passed = report.checks().size() - report.failures();
        m.put("checks", passed + "/" + report.checks().size());
        if (report.functional() != null) {
            m.put("logits err", String.format(Locale.ROOT, "%.2e", report.functional().logitsError()));
        }
        return m;
    }
}
