package dev.upcycle.train;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of a run: on a terminal one bar redrawn with carriage returns (step, loss, tokens/s,
 * ETA) and, every {@code every} steps, a line that stays above it; otherwise a plain line every
 * {@code every} steps, for logs and CI.
 *
 * <p>Rates leave out the first step of the process, which pays for libtorch's warm-up and would
 * otherwise drag the mean (and stretch the ETA) for most of a short run; the bar and the final
 * "done" line report the same mean. The ETA appears once {@link #SETTLED} steps have been timed.
 */
public final class Progress {
    /** Timed steps (after the first) before an ETA is shown. */
    static final int SETTLED = 3;
    private final PrintWriter out;
    private final boolean terminal;
    private final int every;
    private final int total;
    private final boolean routed;
    private boolean barShown;
    private int timed;
    private double timedSeconds;
    private double timedTokens;
    private double firstRate = Double.NaN;

    /** @param routed the model has routers, so its aux and z losses mean something */
    public Progress(PrintWriter out, boolean terminal, int every, int total, boolean routed) {
        this.out = out;
        this.terminal = terminal;
        this.every = every;
        this.total = total;
        this.routed = routed;
    }

    /** After step {@code step} (1-based) of {@code tokens} tokens that took {@code stepSeconds}. */
    public void step(StepMetrics m, double stepSeconds, long tokens) {
        if (Double.isNaN(firstRate)) {
            firstRate = tokens / stepSeconds;
        } else {
            timed++;
            timedSeconds += stepSeconds;
            timedTokens += tokens;
        }
        double eta = timed >= SETTLED ? timedSeconds / timed * (total - m.step()) : Double.NaN;
        boolean logLine = m.step() % every == 0 || m.step() == total;
        if (terminal) {
            if (logLine && m.step() != total) {
                // A line that stays: the loss history is not lost when the bar moves on.
                clearBar();
                out.println(logLine(m, eta));
            }
            int width = 30;
            int filled = (int) ((long) width * m.step() / total);
            out.printf(Locale.ROOT, "\r[%s%s] step %d/%d  loss %.4f  %.0f tok/s  ETA %s   ", "#".repeat(filled),
                    "-".repeat(width - filled), m.step(), total, m.loss(), tokensPerSecond(), duration(eta));
            out.flush();
            barShown = true;
        } else if (logLine) {
            out.println(logLine(m, eta));
        }
    }

    private String logLine(StepMetrics m, double eta) {
        String routing = routed ? String.format(Locale.ROOT, "  aux %.4g  z %.4g", m.aux(), m.z()) : "";
        return String.format(Locale.ROOT, "step %d/%d  lr %.3g  loss %.4f%s  grad %.3g  %.0f tok/s  ETA %s",
                m.step(), total, m.lr(), m.loss(), routing, m.gradNorm(), tokensPerSecond(), duration(eta));
    }

    /**
     * Mean tokens per second of this process's steps after the first (the first step's own rate
     * when it is the only one).
     */
    public double tokensPerSecond() {
        return timed > 0 ? timedTokens / timedSeconds : firstRate;
    }

    private void clearBar() {
        if (barShown) {
            out.print("\r" + " ".repeat(80) + "\r");
            barShown = false;
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
