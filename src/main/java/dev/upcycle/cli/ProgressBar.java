package dev.upcycle.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A one-line progress bar for long reads and writes, redrawn in place with carriage returns.
 * Only drawn on a terminal (System.console() present) and when not quiet, so logs, pipes and
 * CI output never see control characters; it uses no colour, so NO_COLOR needs nothing.
 */
final class ProgressBar {
    private static final long REDRAW_NANOS = 200_000_000L;
    private final PrintWriter out;
    private final String label;
    private final long total;
    private final long start = System.nanoTime();
    private long done;
    private long lastDraw;
    private boolean drawn;

    private ProgressBar(PrintWriter out, String label, long total) {
        this.out = out;
        this.label = label;
        this.total = Math.max(total, 1);
    }

    /**
     * A bar on {@code out}, or null when there is no terminal or the user asked for quiet; the
     * total is only computed when a bar will be drawn.
     */
    static ProgressBar onTerminal(PrintWriter out, String label, java.util.function.LongSupplier total, boolean quiet) {
        return quiet || System.console() == null ? null : new ProgressBar(out, label, total.getAsLong());
    }

    /** Adds {@code bytes} of work done and redraws at most five times a second. */
    void advance(long bytes) {
        done += bytes;
        long now = System.nanoTime();
        if (now - lastDraw >= REDRAW_NANOS || done >= total) {
            lastDraw = now;
            draw(now);
        }
    }

    private void draw(long now) {
        double seconds = (now - start) / 1e9;
        double rate = seconds > 0 ? done / seconds : 0;
        double eta = rate > 0 ? (total - done) / rate : Double.NaN;
        int width = 30;
        int filled = (int) Math.min(width, width * (double) done / total);
        out.printf(Locale.ROOT, "\r%s [%s%s] %s / %s  %s/s  ETA %s   ", label, "#".repeat(filled),
                "-".repeat(width - filled), InspectionTable.bytes(done), InspectionTable.bytes(total),
                InspectionTable.bytes((long) rate), Double.isNaN(eta) ? "-" : String.format(Locale.ROOT, "%.0fs", eta));
        out.flush();
        drawn = true;
    }

    /** Ends the bar's line so that what follows starts on a fresh one. */
    void finish() {
        if (drawn) {
            out.println();
            out.flush();
        }
    }
}
