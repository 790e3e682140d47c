package dev.upcycle.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Locale;

/**
 * Loss against training tokens for one run or several on shared axes: each run's train loss
 * smoothed (its raw per-step loss faint behind it) and its eval losses as dots, one colour per
 * run, named in a legend below. Tokens rather than steps on x, so runs with different batch sizes
 * line up, and one y range, so a difference between runs shows as a gap between lines.
 */
final class LossChart {
    /** tab10, the palette most plotting libraries start with: distinct and readable in print. */
    static final Color[] PALETTE = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
        new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194),
        new Color(127, 127, 127), new Color(188, 189, 34), new Color(23, 190, 207)};
    private static final int W = 900;
    private static final int LEFT = 75;
    private static final int RIGHT = 25;
    static final int TOP = 55;
    static final int PLOT_H = 420;
    private static final int AXIS = 50;
    private static final int LEGEND_ROW = 20;

    /** One run: its name in the legend, the tokens each step consumes, its metrics lines. */
    record Series(String label, long tokensPerStep, List<StepMetrics> metrics) {
    }

    private LossChart() {
    }

    static BufferedImage draw(List<Series> runs) {
        int plotW = W - LEFT - RIGHT;
        BufferedImage img = Chart.image(W, TOP + PLOT_H + AXIS + LEGEND_ROW * runs.size() + 10);
        Graphics2D g = Chart.canvas(img);
        double[][] smoothed = new double[runs.size()][];
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        double maxTokens = 1;
        for (int r = 0; r < runs.size(); r++) {
            Series s = runs.get(r);
            smoothed[r] = smooth(trainLosses(s));
            for (double v : smoothed[r]) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            for (StepMetrics m : s.metrics()) {
                if (m.isEval() && Double.isFinite(m.evalLoss())) {
                    lo = Math.min(lo, m.evalLoss());
                    hi = Math.max(hi, m.evalLoss());
                }
                maxTokens = Math.max(maxTokens, (double) m.step() * s.tokensPerStep());
            }
        }
        if (!(lo <= hi)) {
            lo = 0;
            hi = 1;
        }
        double pad = Math.max(hi - lo, 0.01) * 0.05;
        Chart.Ticks yt = Chart.Ticks.of(lo - pad, hi + pad, 6);
        Chart.Ticks xt = Chart.Ticks.of(0, maxTokens, 8);
        Frame f = new Frame(lo - pad, hi + pad, maxTokens, plotW);

        Chart.text(g, runs.size() == 1 ? "Loss vs training tokens" : "Loss vs training tokens, " + runs.size() + " runs",
                LEFT, 22, 0, Chart.INK);
        Chart.text(g, "lines: train loss, centred mean over about 10 % of the steps (faint: per step); "
                + "dots: eval loss", LEFT, 40, 0, Color.GRAY);
        axes(g, f, xt, yt);

        Graphics2D clip = (Graphics2D) g.create();
        clip.clipRect(LEFT, TOP, plotW, PLOT_H);
        for (int r = 0; r < runs.size(); r++) {
            Series s = runs.get(r);
            Color c = PALETTE[r % PALETTE.length];
            List<StepMetrics> train = s.metrics().stream().filter(m -> !m.isEval()).toList();
            clip.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 60));
            clip.setStroke(new BasicStroke(1f));
            clip.draw(line(f, s, train, train.stream().mapToDouble(StepMetrics::loss).toArray()));
            clip.setColor(c);
            clip.setStroke(new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            clip.draw(line(f, s, train, smoothed[r]));
        }
        clip.dispose();
        // Eval losses are inside the y range by construction: their dots are drawn whole, even at the edges.
        for (int r = 0; r < runs.size(); r++) {
            Series s = runs.get(r);
            Color c = PALETTE[r % PALETTE.length];
            List<StepMetrics> eval = s.metrics().stream().filter(m -> m.isEval() && Double.isFinite(m.evalLoss()))
                    .toList();
            g.setColor(c);
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10, new float[] {4, 4}, 0));
            g.draw(line(f, s, eval, eval.stream().mapToDouble(StepMetrics::evalLoss).toArray()));
            for (StepMetrics m : eval) {
                int x = f.x(m.step() * (double) s.tokensPerStep());
                int y = f.y(m.evalLoss());
                g.setColor(c);
                g.fillOval(x - 5, y - 5, 10, 10);
                g.setColor(Chart.INK);
                g.setStroke(new BasicStroke(1f));
                g.drawOval(x - 5, y - 5, 10, 10);
            }
        }
        legend(g, runs, TOP + PLOT_H + AXIS);
        g.dispose();
        return img;
    }

    /** The per-step train losses of a run, in step order. */
    private static double[] trainLosses(Series s) {
        return s.metrics().stream().filter(m -> !m.isEval()).mapToDouble(StepMetrics::loss).toArray();
    }

    /**
     * A centred moving mean over {@code 2h + 1} steps, h about 5 % of the steps (fewer at the
     * ends): it has no lag, so the line meets the eval dots where they were measured.
     */
    static double[] smooth(double[] v) {
        int h = (int) Math.round(v.length / 20.0);
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double sum = 0;
            int n = 0;
            for (int j = Math.max(0, i - h); j <= Math.min(v.length - 1, i + h); j++) {
                if (Double.isFinite(v[j])) {
                    sum += v[j];
                    n++;
                }
            }
            out[i] = n == 0 ? Double.NaN : sum / n;
        }
        return out;
    }

    private static Path2D line(Frame f, Series s, List<StepMetrics> points, double[] values) {
        Path2D.Double p = new Path2D.Double();
        boolean open = false;
        for (int i = 0; i < points.size(); i++) {
            if (!Double.isFinite(values[i])) {
                open = false;
                continue;
            }
            double x = f.x(points.get(i).step() * (double) s.tokensPerStep());
            double y = f.y(values[i]);
            if (open) {
                p.lineTo(x, y);
            } else {
                p.moveTo(x, y);
                open = true;
            }
        }
        return p;
    }

    private static void axes(Graphics2D g, Frame f, Chart.Ticks xt, Chart.Ticks yt) {
        int bottom = TOP + PLOT_H;
        int right = LEFT + f.plotW();
        for (int i = 0; i < yt.count(); i++) {
            int y = f.y(yt.at(i));
            g.setColor(Chart.GRID);
            g.drawLine(LEFT, y, right, y);
            g.setColor(Chart.INK);
            g.drawLine(LEFT - 5, y, LEFT, y);
            Chart.text(g, yt.label(yt.at(i)), LEFT - 8, y + 4, 1, Chart.INK);
        }
        for (int i = 0; i < xt.count(); i++) {
            int x = f.x(xt.at(i));
            g.setColor(Chart.GRID);
            g.drawLine(x, TOP, x, bottom);
            g.setColor(Chart.INK);
            g.drawLine(x, bottom, x, bottom + 5);
            Chart.text(g, xt.countLabel(xt.at(i)), x, bottom + 19, 0.5, Chart.INK);
        }
        g.setColor(Chart.INK);
        g.drawRect(LEFT, TOP, f.plotW(), PLOT_H);
        Chart.text(g, "training tokens", LEFT + f.plotW() / 2, bottom + 38, 0.5, Chart.INK);
        Chart.verticalText(g, "loss (nats/token)", 18, TOP + PLOT_H / 2, Chart.INK);
    }

    private static void legend(Graphics2D g, List<Series> runs, int top) {
        for (int r = 0; r < runs.size(); r++) {
            Series s = runs.get(r);
            int y = top + r * LEGEND_ROW + 14;
            g.setColor(PALETTE[r % PALETTE.length]);
            g.fillRect(LEFT, y - 9, 22, 8);
            StepMetrics lastEval = s.metrics().stream().filter(StepMetrics::isEval).reduce((a, b) -> b).orElse(null);
            String tail = lastEval == null ? "" : String.format(Locale.ROOT, "   last eval loss %.4f", lastEval.evalLoss());
            Chart.text(g, s.label() + tail, LEFT + 30, y, 0, Chart.INK);
        }
    }

    /** Data to pixels: tokens from 0 to {@code maxX} across, loss from lo (bottom) to hi. */
    private record Frame(double lo, double hi, double maxX, int plotW) {
        int x(double tokens) {
            return LEFT + (int) Math.round(plotW * tokens / maxX);
        }

        int y(double loss) {
            return TOP + PLOT_H - (int) Math.round(PLOT_H * (loss - lo) / (hi - lo));
        }
    }
}
