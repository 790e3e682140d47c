package dev.upcycle.train;

import dev.upcycle.train.Report.Row;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * What a report concludes from its runs: whether they were trained like for like (same tokens,
 * sequence length and data), and which configuration reached the lowest loss, by how much, set
 * against the spread between seeds where the runs include several seeds of one configuration.
 */
public final class Comparison {
    private Comparison() {
    }

    /**
     * Each way the runs differ that makes their losses not directly comparable, one sentence each;
     * empty when they agree (or there is one run).
     */
    public static List<String> differences(List<Row> rows) {
        List<String> out = new ArrayList<>();
        differ(rows, "training tokens", r -> String.format(Locale.ROOT, "%,d", r.tokens()), out);
        differ(rows, "sequence length", r -> Long.toString(r.setup().seqLen()), out);
        differ(rows, "training data", r -> r.setup().data(), out);
        differ(rows, "eval data", r -> r.setup().evalData(), out);
        return out;
    }

    private static void differ(List<Row> rows, String what, Function<Row, String> value, List<String> out) {
        if (rows.stream().map(value).distinct().count() > 1) {
            StringBuilder b = new StringBuilder("the runs differ in " + what + ": ");
            for (int i = 0; i < rows.size(); i++) {
                b.append(i == 0 ? "" : ", ").append(rows.get(i).run()).append(' ').append(value.apply(rows.get(i)));
            }
            out.add(b.toString());
        }
    }

    /** Runs that differ only by seed count as one configuration: {@code NAME-seedN} share NAME. */
    private record Config(String name, double[] values) {
        double mean() {
            return Arrays.stream(values).average().orElse(Double.NaN);
        }

        double spread() {
            return Arrays.stream(values).max().orElse(0) - Arrays.stream(values).min().orElse(0);
        }

        String describe() {
            return values.length < 2 ? name : String.format(Locale.ROOT, "%s (%d seeds, spread %.4f)", name,
                    values.length, spread());
        }
    }

    /**
     * One line: the configuration with the lowest eval loss (train loss over the last 10 steps when
     * a run has no eval loss), every other one's difference to it, and how that difference compares
     * with the seed spread; null with fewer than two configurations.
     */
    public static String verdict(List<Row> rows) {
        boolean eval = rows.stream().allMatch(r -> r.evalLoss() != null && Double.isFinite(r.evalLoss()));
        Map<String, List<Double>> groups = new LinkedHashMap<>();
        for (Row r : rows) {
            String seeds = Report.seedGroup(r);
            groups.computeIfAbsent(seeds != null ? seeds : r.run().toString(), k -> new ArrayList<>())
                    .add(eval ? r.evalLoss() : r.trainLoss());
        }
        if (groups.size() < 2) {
            return null;
        }
        List<Config> configs = new ArrayList<>();
        groups.forEach((name, v) -> configs.add(new Config(name, v.stream().mapToDouble(Double::doubleValue).toArray())));
        configs.sort((a, b) -> Double.compare(a.mean(), b.mean()));
        boolean seeded = configs.stream().anyMatch(c -> c.values().length > 1);
        Config best = configs.get(0);
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "lowest %s%s: %s %.4f",
                eval ? "eval loss" : "train loss (last 10 steps, as not every run has an eval loss)",
                seeded ? " (mean over seeds)" : "", best.describe(), best.mean()));
        double spread = configs.stream().mapToDouble(Config::spread).max().orElse(0);
        List<String> within = new ArrayList<>();
        for (Config c : configs.subList(1, configs.size())) {
            double delta = c.mean() - best.mean();
            b.append(String.format(Locale.ROOT, "; %s %.4f (+%.4f, +%.1f %%)", c.describe(), c.mean(), delta,
                    100 * delta / Math.abs(best.mean())));
            if (delta <= spread) {
                within.add(c.name());
            }
        }
        b.append(". ");
        if (!seeded) {
            b.append("Seed spread unknown: one run per configuration (train each again with another --seed, "
                    + "in directories named NAME-seedN, to measure it).");
        } else if (within.isEmpty()) {
            b.append(String.format(Locale.ROOT, "Every difference is larger than the largest seed spread (%.4f).",
                    spread));
        } else {
            b.append(String.format(Locale.ROOT, "No clear winner: the difference to %s is within the largest seed "
                    + "spread (%.4f).", String.join(", ", within), spread));
        }
        return b.toString();
    }
}
