package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The report's result line and its like-for-like check, on hand-made runs. */
class ComparisonTest {
    private static final Report.Setup SETUP = new Report.Setup(1024, 128, "train.txt", "valid.txt");

    private static Report.Row row(String run, Double eval, double train, int steps, Report.Setup setup) {
        return new Report.Row(Path.of(run), "m", steps, steps * setup.tokensPerStep(), train, eval, 1000, null, setup,
                List.of(), false);
    }

    private static Report.Row row(String run, double eval) {
        return row(run, eval, eval + 0.1, 150, SETUP);
    }

    @Test
    void namesTheLowerLossAndTheDifferenceAndSaysTheSeedSpreadIsUnknown() {
        String v = Comparison.verdict(List.of(row("runs/dense", 1.7780), row("runs/moe", 1.7580)));
        assertThat(v).isEqualTo("lowest eval loss: runs/moe 1.7580; runs/dense 1.7780 (+0.0200, +1.1 %). "
                + "Seed spread unknown: one run per configuration (train each again with another --seed, in "
                + "directories named NAME-seedN, to measure it).");
    }

    @Test
    void setsTheDifferenceAgainstTheSpreadBetweenSeeds() {
        String clear = Comparison.verdict(List.of(row("a/moe-seed0", 1.90), row("a/moe-seed1", 1.92),
                row("a/dense-seed0", 2.00), row("a/dense-seed1", 2.03)));
        assertThat(clear).startsWith("lowest eval loss (mean over seeds): moe (2 seeds, spread 0.0200) 1.9100; "
                + "dense (2 seeds, spread 0.0300) 2.0150 (+0.1050, +5.5 %). ")
                .endsWith("Every difference is larger than the largest seed spread (0.0300).");
        String noise = Comparison.verdict(List.of(row("a/moe-seed0", 1.90), row("a/moe-seed1", 1.98),
                row("a/dense-seed0", 1.95), row("a/dense-seed1", 1.96)));
        assertThat(noise).endsWith("No clear winner: the difference to dense is within the largest seed spread "
                + "(0.0800).");
    }

    @Test
    void fallsBackToTrainLossWhenARunHasNoEvalAndSaysNothingForOneConfiguration() {
        String v = Comparison.verdict(List.of(row("x", null, 2.5, 150, SETUP), row("y", 1.0, 2.4, 150, SETUP)));
        assertThat(v).startsWith("lowest train loss (last 10 steps, as not every run has an eval loss): y 2.4000; "
                + "x 2.5000 (+0.1000, +4.2 %).");
        assertThat(Comparison.verdict(List.of(row("runs/moe", 1.7)))).isNull();
        assertThat(Comparison.verdict(List.of(row("r/moe-seed0", 1.7), row("r/moe-seed1", 1.8)))).isNull();
    }

    @Test
    void flagsRunsOfDifferentLengthsSequenceLengthsOrData() {
        assertThat(Comparison.differences(List.of(row("a", 1.0), row("b", 1.1)))).isEmpty();
        Report.Setup otherData = new Report.Setup(1024, 256, "train.txt slice 1/3", "valid.txt");
        List<String> d = Comparison.differences(List.of(row("a", 1.0, 1.1, 150, SETUP),
                row("b", 1.0, 1.1, 100, otherData)));
        assertThat(d).containsExactly("the runs differ in training tokens: a 153,600, b 102,400",
                "the runs differ in sequence length: a 128, b 256",
                "the runs differ in training data: a train.txt, b train.txt slice 1/3");
    }
}
