package dev.upcycle.train;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of a run: on a terminal one bar redrawn with carriage returns (step, loss, tokens/s,
 * ETA); otherwise a plain line every {@code every} steps, for logs and CI.
 */
public final class Progress {
    private final PrintWriter out;
    private final boolean terminal;
    private final int every;
    private final int total;
    private boolean barShown;

    public Progress(PrintWriter out, boolean terminal, int every, int total) {
        this.out = out;
        this.terminal = terminal;
        this.every = every;
        this.total = total;
    }

    /** After step {@code step} (1-based); {@code seconds} since this process started training. */
    public void step(StepMetrics m, int firstStep, double seconds) {
        int done = m.step() - firstStep;
        double eta = done > 0 ? seconds / done * (total - m.step()) : Double.NaN;
        if (terminal) {
            int width = 30;
            int filled = (int) ((long) width * m.step() / total);
            out.printf(Locale.ROOT, "\r[%s%s] step %d/%d  loss %.4f  %.0f tok/s  ETA %s   ", "#".repeat(filled),
                    "-".repeat(width - filled), m.step(), total, m.loss(), m.tokensPerSecond(), duration(eta));
            out.flush();
            barShown = true;
        } else if (m.step() % every == 0 || m.step() == total) {
            out.printf(Locale.ROOT, "step %d/%d  lr %.3g  loss %.4f  aux %.4g  z %.4g  grad %.3g  %.0f tok/s  ETA %s%n",
                    m.step(), total, m.lr(), m.loss(), m.aux(), m.z(), m.gradNorm(), m.tokensPerSecond(), duration(eta));
        }
    }

    /** A line of its own (ends the bar's line first). */
    public void line(String s) {
        if (barShown) {
            out.println();
            barShown = false;
        }
        out.println(s);
        out.flush();
    }

    static String duration(double s) {
        if (!Double.isFinite(s)) {
            return "?";
        }
        long t = Math.round(s);
        return t >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", t / 3600, t / 60 % 60)
                : String.format(Locale.ROOT, "%dm%02ds", t / 60, t % 60);
    }
}
