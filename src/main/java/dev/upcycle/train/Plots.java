package dev.upcycle.train;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.imageio.ImageIO;

/**
 * PNG plots drawn with {@link BufferedImage} in headless mode: the loss curve (training loss per
 * step, evaluation loss as dots) and the expert load, one heat-map strip per sparse layer with
 * the step on x, the expert on y and the fraction of routed slots as colour (white = none, mid
 * blue = the balanced 1/E, dark red = far above it), so a collapsing router shows as one dark row.
 */
public final class Plots {
    public static final String LOSS_FILE = "loss.png";
    public static final String LOAD_FILE = "expert-load.png";
    private static final int W = 900;
    private static final int H = 500;
    private static final int M = 60;

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Plots() {
    }

    public static void loss(List<StepMetrics> metrics, Path file) {
        List<StepMetrics> train = metrics.stream().filter(m -> !m.isEval()).toList();
        List<StepMetrics> eval = metrics.stream().filter(StepMetrics::isEval).toList();
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        double maxStep = Math.max(1, metrics.stream().mapToInt(StepMetrics::step).max().orElse(1));
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (StepMetrics m : metrics) {
            double v = m.isEval() ? m.evalLoss() : m.loss();
            if (Double.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (!(lo < hi)) {
            lo = Double.isFinite(lo) ? lo - 1 : 0;
            hi = lo + 2;
        }
        axes(g, "step", "loss (nats/token)", maxStep, lo, hi);
        g.setColor(new Color(31, 119, 180));
        g.setStroke(new BasicStroke(1.5f));
        int px = -1;
        int py = -1;
        for (StepMetrics m : train) {
            int x = x(m.step(), maxStep);
            int y = y(m.loss(), lo, hi);
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            px = x;
            py = y;
        }
        g.setColor(new Color(214, 39, 40));
        for (StepMetrics m : eval) {
            g.fillOval(x(m.step(), maxStep) - 4, y(m.evalLoss(), lo, hi) - 4, 8, 8);
        }
        text(g, "train loss (line), eval loss (red dots)", M + 10, M - 20, Color.DARK_GRAY);
        write(img, file);
    }

    public static void expertLoad(List<StepMetrics> metrics, Path file) {
        List<StepMetrics> train = metrics.stream().filter(m -> !m.isEval() && !m.expertLoad().isEmpty()).toList();
        Map<Integer, List<double[]>> byLayer = new TreeMap<>();
        for (StepMetrics m : train) {
            m.expertLoad().forEach((layer, f) -> byLayer.computeIfAbsent(layer, k -> new ArrayList<>()).add(f));
        }
        int layers = Math.max(1, byLayer.size());
        int strip = Math.max(40, (H - 2 * M) / layers);
        BufferedImage img = new BufferedImage(W, 2 * M + strip * layers, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        text(g, "fraction of routed tokens per expert (y) over steps (x); balanced = blue, collapse = dark red rows",
                M, M - 25, Color.DARK_GRAY);
        int row = 0;
        for (Map.Entry<Integer, List<double[]>> e : byLayer.entrySet()) {
            List<double[]> steps = e.getValue();
            int experts = steps.get(0).length;
            int top = M + row * strip;
            double cellW = (double) (W - 2 * M) / steps.size();
            double cellH = (double) (strip - 6) / experts;
            for (int s = 0; s < steps.size(); s++) {
                for (int x = 0; x < experts; x++) {
                    g.setColor(colour(steps.get(s)[x] * experts));
                    g.fillRect(M + (int) (s * cellW), top + (int) (x * cellH), (int) Math.ceil(cellW),
                            (int) Math.ceil(cellH));
                }
            }
            text(g, "layer " + e.getKey(), 5, top + strip / 2, Color.BLACK);
            row++;
        }
        if (byLayer.isEmpty()) {
            text(g, "dense model: no routing", M, M + 20, Color.BLACK);
        }
        write(img, file);
    }

    /** {@code r} = load relative to balanced: 0 white, 1 blue, ≥ 3 dark red. */
    static Color colour(double r) {
        if (r <= 1) {
            float t = (float) Math.max(0, r);
            return new Color(1 - 0.8f * t, 1 - 0.6f * t, 1 - 0.2f * t);
        }
        float t = (float) Math.min(1, (r - 1) / 2);
        return new Color(0.2f + 0.5f * t, 0.4f * (1 - t), 0.8f * (1 - t));
    }

    private static Graphics2D canvas(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        return g;
    }

    private static void axes(Graphics2D g, String xLabel, String yLabel, double maxX, double lo, double hi) {
        g.setColor(Color.BLACK);
        g.drawLine(M, H - M, W - M, H - M);
        g.drawLine(M, M, M, H - M);
        for (int i = 0; i <= 4; i++) {
            double v = lo + (hi - lo) * i / 4;
            int y = y(v, lo, hi);
            g.drawLine(M - 4, y, M, y);
            text(g, String.format(Locale.ROOT, "%.2f", v), 5, y + 4, Color.BLACK);
            int x = M + (W - 2 * M) * i / 4;
            g.drawLine(x, H - M, x, H - M + 4);
            text(g, String.format(Locale.ROOT, "%.0f", maxX * i / 4), x - 10, H - M + 18, Color.BLACK);
        }
        text(g, xLabel, W / 2, H - 15, Color.BLACK);
        text(g, yLabel, 5, M - 35, Color.BLACK);
    }

    /** Fonts can be missing on a bare server; the plot is still useful without its labels. */
    private static void text(Graphics2D g, String s, int x, int y, Color c) {
        try {
            g.setColor(c);
            g.drawString(s, x, y);
        } catch (RuntimeException | Error e) {
            // no usable font
        }
    }

    private static int x(double step, double maxStep) {
        return M + (int) Math.round((W - 2 * M) * step / maxStep);
    }

    private static int y(double v, double lo, double hi) {
        return H - M - (int) Math.round((H - 2 * M) * (v - lo) / (hi - lo));
    }

    private static void write(BufferedImage img, Path file) {
        try {
            if (!ImageIO.write(img, "png", file.toFile())) {
                throw new IOException("no PNG writer");
            }
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot write plot: " + e.getMessage());
        }
    }
}
