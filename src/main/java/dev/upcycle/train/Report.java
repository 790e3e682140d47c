package dev.upcycle.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.JsonErrors;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelDescription;
import dev.upcycle.moe.MoaAccounting;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A Markdown comparison of train runs, read from their run directories ({@code train-config.json}
 * and {@code metrics.jsonl}): a chart of every run's loss against tokens, one table row per run,
 * the result (see {@link Comparison}), then each run's plots, linked relative to the report. The
 * train loss shown is the mean of the last 10 steps (one step's loss is noisy).
 */
public final class Report {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Report() {
    }

    /**
     * One run's figures.
     *
     * @param size   the trained model's parameters and FLOPs, or null when the run wrote no final model
     * @param losses its metrics lines without the expert loads: what the loss chart draws
     * @param routed whether the run routed tokens (an MoE model): only then has it an expert-load plot
     */
    public record Row(Path run, String model, int steps, long tokens, double trainLoss, Double evalLoss,
                      double tokensPerSecond, ModelSize size, Setup setup, List<StepMetrics> losses,
                      boolean routed) {
    }

    /**
     * What must agree between runs for their losses to compare like for like.
     *
     * @param tokensPerStep tokens one optimizer step consumed
     * @param seqLen        tokens per sequence: the context every loss was measured at
     * @param data          the training data (file, slice, tokenization)
     * @param evalData      the validation data, or "none"
     */
    public record Setup(long tokensPerStep, long seqLen, String data, String evalData) {
    }

    /**
     * @param parameters    every parameter of the trained model
     * @param active        parameters used per token
     * @param flopsPerToken forward FLOPs per token of the decoder layers at the run's sequence length (docs/attention-experts.md, "Parameters, active parameters and FLOPs")
     * @param trainFlops    3 x flopsPerToken x tokens: forward and backward, the usual estimate
     */
    public record ModelSize(long parameters, long active, long flopsPerToken, double trainFlops) {
        static ModelSize of(Path run, long seqLen, long tokens) {
            Path config = confined(run, "config.json");
            if (!Files.isRegularFile(config)) {
                return null;
            }
            ModelConfig c = ModelConfig.read(config, FamilyRegistry.builtIn());
            ModelDescription d = ModelDescription.of(c.family(), c, java.util.Map.of());
            long flops = MoaAccounting.forwardFlops(c, seqLen);
            return new ModelSize(d.totalParameters(), d.activeParameters(), flops, 3.0 * flops * tokens);
        }
    }

    /** {@code name} in a run directory, checked by the link rule of model files when it exists. */
    private static Path confined(Path run, String name) {
        return Files.isDirectory(run) ? ModelFiles.of(run).optional(name).orElse(run.resolve(name)) : run.resolve(name);
    }

    public static Row read(Path run) {
        Path config = confined(run, TrainConfig.FILE_NAME);
        Path metrics = confined(run, MetricsFile.FILE_NAME);
        JsonNode c = json(config, readText(run, config));
        StateFields cf = new StateFields(config.toString());
        List<StepMetrics> lines = new ArrayList<>();
        int number = 0;
        for (String line : readText(run, metrics).split("\n", -1)) {
            number++;
            if (!line.isBlank()) {
                String where = metrics + " line " + number;
                lines.add(StepMetrics.fromJson(json(Path.of(where), line), new StateFields(where)));
            }
        }
        List<StepMetrics> steps = lines.stream().filter(m -> !m.isEval()).toList();
        if (steps.isEmpty()) {
            throw new UpcycleException(ErrorKind.InvalidRunState, metrics.toString(), "no training steps recorded");
        }
        double last10 = steps.subList(Math.max(0, steps.size() - 10), steps.size()).stream()
                .mapToDouble(StepMetrics::loss).average().orElse(Double.NaN);
        Double eval = lines.stream().filter(StepMetrics::isEval).reduce((a, b) -> b).map(StepMetrics::evalLoss)
                .orElse(null);
        double[] tps = steps.stream().mapToDouble(StepMetrics::tokensPerSecond).sorted().toArray();
        int n = steps.get(steps.size() - 1).step();
        Setup setup = new Setup(cf.integer(c, key(c, "tokens_per_step"), 1, Long.MAX_VALUE / Integer.MAX_VALUE),
                cf.integer(c, key(c, "seq_len"), 1, Integer.MAX_VALUE), data(c.path("data")),
                data(c.path(key(c, "eval_data"))));
        long tokens = n * setup.tokensPerStep();
        return new Row(run, c.path("dir").asText(), n, tokens, last10, eval, tps[tps.length / 2],
                ModelSize.of(run, setup.seqLen(), tokens), setup, losses(lines),
                lines.stream().anyMatch(m -> !m.expertLoad().isEmpty()));
    }

    /** {@code snake} as train-config.json spells it: runs written before schema version 1 used {@code seq-len}. */
    private static String key(JsonNode config, String snake) {
        String kebab = snake.replace('_', '-');
        return !config.has(snake) && config.has(kebab) ? kebab : snake;
    }

    /** The lines without their expert loads, which the loss chart does not need and which grow with E x layers. */
    private static List<StepMetrics> losses(List<StepMetrics> lines) {
        return lines.stream().map(m -> m.isEval() || m.expertLoad().isEmpty() ? m : new StepMetrics(m.step(), m.lr(),
                m.loss(), m.aux(), m.z(), m.gradNorm(), m.tokensPerSecond(), java.util.Map.of(), null)).toList();
    }

    /** A data source as train-config.json records it: its file, with its slice and tokenizer when named. */
    private static String data(JsonNode d) {
        if (d.isMissingNode() || d.isNull()) {
            return "none";
        }
        StringBuilder b = new StringBuilder(d.path("file").asText(d.toString()));
        for (String key : List.of("slice", "tokenizer")) {
            if (d.has(key)) {
                b.append(' ').append(key).append(' ').append(d.path(key).asText());
            }
        }
        return b.toString();
    }

    private static String readText(Path run, Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new UpcycleException(ErrorKind.InvalidRunState, file.toString(), "not UTF-8 text");
        } catch (java.nio.file.NoSuchFileException e) {
            throw new UpcycleException(ErrorKind.InvalidRunState, run.toString(), "not a train run: no "
                    + file.getFileName(), "report takes output directories of upcycle train");
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage(),
                    "report takes output directories of upcycle train");
        }
    }

    /** One JSON value; {@code where} names the file (and line) in messages. */
    private static JsonNode json(Path where, String text) {
        try {
            JsonNode n = JSON.readTree(text);
            if (n == null || !n.isObject()) {
                throw new UpcycleException(ErrorKind.InvalidRunState, where.toString(), "expected a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidRunState, where.toString(), "not valid JSON: "
                    + JsonErrors.describe(e));
        }
    }

    /** The first line of every report: how {@link ReportFiles} knows a file it may replace. */
    static final String TITLE = "# Training report";

    /** The overlaid loss-vs-tokens chart of all runs, one colour each. */
    public static void chart(List<Row> rows, Path file) {
        Chart.write(LossChart.draw(rows.stream()
                .map(r -> new LossChart.Series(r.run().toString(), r.setup().tokensPerStep(), r.losses())).toList()),
                file);
    }

    /**
     * The Markdown text, with links relative to the report's directory: the chart of all runs, the
     * table, what keeps the runs from comparing like for like, the result line, the seed table
     * and each run's own plots (the expert load only for runs that routed tokens).
     */
    public static String markdown(List<Row> rows, ReportFiles files) {
        Path base = files.markdown().toAbsolutePath().getParent();
        StringBuilder b = new StringBuilder(TITLE + "\n\n");
        b.append("![loss vs training tokens, all runs](").append(link(base, files.chart())).append(")\n\n");
        b.append("| run | model | steps | tokens | train loss (last 10 steps) | eval loss | tokens/s (median) "
                + "| parameters | active | FLOPs/token | train FLOPs |\n");
        b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            ModelSize z = r.size();
            b.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %.4f | %s | %.0f | %s |%n", r.run(), r.model(),
                    r.steps(), r.tokens(), r.trainLoss(), r.evalLoss() == null ? "-"
                            : String.format(Locale.ROOT, "%.4f", r.evalLoss()), r.tokensPerSecond(),
                    z == null ? "- | - | - | -" : String.format(Locale.ROOT, "%,d | %,d | %,d | %.3g", z.parameters(),
                            z.active(), z.flopsPerToken(), z.trainFlops())));
        }
        b.append("\nFLOPs/token: forward FLOPs of the decoder layers per token at the run's sequence length "
                + "(docs/attention-experts.md); train FLOPs: 3 x FLOPs/token x tokens (forward and backward).\n");
        List<String> differences = Comparison.differences(rows);
        if (!differences.isEmpty()) {
            b.append("\n**Not like for like:** ").append(String.join("; ", differences))
                    .append(". The losses below do not compare the models alone.\n");
        }
        String verdict = Comparison.verdict(rows);
        if (verdict != null) {
            b.append("\n**Result:** ").append(verdict).append('\n');
        }
        b.append(acrossSeeds(rows));
        for (Row r : rows) {
            b.append("\n## ").append(r.run()).append("\n\n");
            for (String plot : r.routed() ? List.of(Plots.LOSS_FILE, Plots.LOAD_FILE) : List.of(Plots.LOSS_FILE)) {
                if (Files.isRegularFile(r.run().resolve(plot))) {
                    b.append("![").append(plot).append("](").append(link(base, r.run().resolve(plot))).append(")\n");
                }
            }
        }
        return b.toString();
    }

    private static String link(Path base, Path file) {
        return base.relativize(file.toAbsolutePath()).toString().replace('\\', '/');
    }

    /** Runs named {@code NAME-seedN}: the same configuration trained from different seeds. */
    private static final java.util.regex.Pattern SEEDED = java.util.regex.Pattern.compile("(.+)-seed\\d+");

    /** NAME of a run directory named {@code NAME-seedN}, else null. */
    static String seedGroup(Row r) {
        java.util.regex.Matcher m = SEEDED.matcher(r.run().getFileName().toString());
        return m.matches() ? m.group(1) : null;
    }

    /**
     * A second table grouping runs that differ only by seed (directory names ending in
     * {@code -seedN}): mean eval loss, spread (max - min) and standard deviation, so a difference
     * between configurations can be read against the noise between seeds. Empty without such runs.
     */
    static String acrossSeeds(List<Row> rows) {
        java.util.Map<String, List<Row>> groups = new java.util.LinkedHashMap<>();
        for (Row r : rows) {
            String group = seedGroup(r);
            if (group != null && r.evalLoss() != null) {
                groups.computeIfAbsent(group, k -> new ArrayList<>()).add(r);
            }
        }
        if (groups.values().stream().noneMatch(g -> g.size() > 1)) {
            return "";
        }
        StringBuilder b = new StringBuilder("\n## Across seeds\n\n");
        b.append("| configuration | seeds | eval loss (mean) | spread (max - min) | std |\n");
        b.append("|---|---:|---:|---:|---:|\n");
        groups.forEach((name, g) -> {
            double[] v = g.stream().mapToDouble(Row::evalLoss).toArray();
            double mean = Arrays.stream(v).average().orElse(Double.NaN);
            double spread = Arrays.stream(v).max().orElse(0) - Arrays.stream(v).min().orElse(0);
            double var = v.length < 2 ? 0 : Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum() / (v.length - 1);
            b.append(String.format(Locale.ROOT, "| %s | %d | %.4f | %.4f | %.4f |%n", name, v.length, mean, spread,
                    Math.sqrt(var)));
        });
        return b.toString();
    }
}
