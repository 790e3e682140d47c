package dev.upcycle.train;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The expert load of an MoE run: per sparse layer a heat map with the step across and the expert
 * index down, each cell coloured by the share of the layer's routed slots that expert received,
 * relative to the balanced share 1/E (white none, blue balanced, dark red three times balanced or
 * more), with a colour scale beside it. A collapsing router shows as one dark row among white ones.
 */
final class ExpertLoadChart {
    private static final int W = 900;
    private static final int LEFT = 110;
    private static final int RIGHT = 150;
    static final int TOP = 60;
    private static final int GAP = 14;
    private static final int AXIS = 50;
    /** Left edge of the colour scale, whose top is at {@link #TOP}. */
    static final int SCALE_LEFT = W - RIGHT + 30;
    /** Load relative to balanced at the top of the colour scale; more is drawn in the same colour. */
    static final double SCALE_MAX = 3;

    private ExpertLoadChart() {
    }

    /** Per sparse layer, the expert-load fractions of each train step that recorded them. */
    static Map<Integer, List<double[]>> byLayer(List<StepMetrics> metrics) {
        Map<Integer, List<double[]>> byLayer = new TreeMap<>();
        for (StepMetrics m : metrics) {
            if (!m.isEval()) {
                m.expertLoad().forEach((layer, f) -> byLayer.computeIfAbsent(layer, k -> new ArrayList<>()).add(f));
            }
        }
        return byLayer;
    }

    /** The chart, or null for a run without routing (a dense model): there is nothing to draw. */
    static BufferedImage draw(List<StepMetrics> metrics) {
        Map<Integer, List<double[]>> layers = byLayer(metrics);
        if (layers.isEmpty()) {
            return null;
        }
        int steps = layers.values().stream().mapToInt(List::size).max().orElse(1);
        int maxExperts = layers.values().stream().mapToInt(l -> l.get(0).length).max().orElse(1);
        int strip = Math.max(40, Math.min(Math.min(220, maxExperts * 10), 1600 / layers.size()));
        int plotW = W - LEFT - RIGHT;
        int bottom = TOP + layers.size() * (strip + GAP) - GAP;
        int scaleH = Math.min(260, Math.max(120, bottom - TOP));
        BufferedImage img = Chart.image(W, Math.max(bottom + AXIS, TOP + scaleH + 20));
        Graphics2D g = Chart.canvas(img);
        Chart.text(g, "Expert load: each expert's share of its layer's routed slots, per train step", LEFT, 22, 0,
                Chart.INK);
        Chart.text(g, "relative to the balanced share 1/E; a router that collapses shows as one dark row", LEFT, 40,
                0, Color.GRAY);

        int top = TOP;
        for (Map.Entry<Integer, List<double[]>> e : layers.entrySet()) {
            heatMap(g, e.getKey(), e.getValue(), top, strip, plotW, steps);
            top += strip + GAP;
        }
        Chart.Ticks xt = Chart.Ticks.of(0, steps, 8);
        for (int i = 0; i < xt.count(); i++) {
            int x = LEFT + (int) Math.round(plotW * xt.at(i) / steps);
            g.setColor(Chart.INK);
            g.drawLine(x, bottom, x, bottom + 5);
            Chart.text(g, xt.label(xt.at(i)), x, bottom + 19, 0.5, Chart.INK);
        }
        Chart.text(g, "train step", LEFT + plotW / 2, bottom + 38, 0.5, Chart.INK);
        Chart.verticalText(g, "expert", 14, (TOP + bottom) / 2, Chart.INK);
        scale(g, SCALE_LEFT, TOP, scaleH);
        g.dispose();
        return img;
    }

    private static void heatMap(Graphics2D g, int layer, List<double[]> steps, int top, int strip, int plotW,
                                int maxSteps) {
        int experts = steps.get(0).length;
        for (int s = 0; s < steps.size(); s++) {
            int x0 = LEFT + (int) Math.round((double) plotW * s / maxSteps);
            int x1 = LEFT + (int) Math.round((double) plotW * (s + 1) / maxSteps);
            double[] f = steps.get(s);
            for (int x = 0; x < experts; x++) {
                int y0 = top + (int) Math.round((double) strip * x / experts);
                int y1 = top + (int) Math.round((double) strip * (x + 1) / experts);
                g.setColor(colour(x < f.length ? f[x] * experts : 0));
                g.fillRect(x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0));
            }
        }
        g.setColor(Chart.INK);
        g.drawRect(LEFT, top, plotW, strip);
        Chart.text(g, "layer " + layer, 24, top + strip / 2 + 4, 0, Chart.INK);
        // Label as many expert rows as fit 12 pixels apart.
        double cell = (double) strip / experts;
        int every = Math.max(1, (int) Math.ceil(12 / cell));
        for (int x = 0; x < experts; x++) {
            if (x % every == 0) {
                int y = top + (int) Math.round(cell * (x + 0.5));
                g.setColor(Chart.INK);
                g.drawLine(LEFT - 4, y, LEFT, y);
                Chart.text(g, Integer.toString(x), LEFT - 7, y + 4, 1, Chart.INK);
            }
        }
    }

    /** The colour scale: load relative to balanced from 0 (bottom) to {@link #SCALE_MAX} (top). */
    private static void scale(Graphics2D g, int x, int top, int height) {
        for (int i = 0; i < height; i++) {
            g.setColor(colour(SCALE_MAX * (height - 1 - i) / (height - 1)));
            g.fillRect(x, top + i, 18, 1);
        }
        g.setColor(Chart.INK);
        g.drawRect(x, top, 18, height);
        String[] labels = {"0", "1/E balanced", "2/E", "3/E or more"};
        for (int v = 0; v <= SCALE_MAX; v++) {
            int y = top + (int) Math.round((height - 1) * (1 - v / SCALE_MAX));
            g.drawLine(x + 18, y, x + 23, y);
            Chart.text(g, labels[v], x + 27, y + 4, 0, Chart.INK);
        }
        Chart.text(g, "share", x, top - 8, 0, Chart.INK);
    }

    /** {@code r} = load relative to balanced: 0 white, 1 blue, 3 or more dark red. */
    static Color colour(double r) {
        if (r <= 1) {
            float t = (float) Math.max(0, r);
            return new Color(1 - 0.8f * t, 1 - 0.6f * t, 1 - 0.2f * t);
        }
        float t = (float) Math.min(1, (r - 1) / (SCALE_MAX - 1));
        return new Color(0.2f + 0.5f * t, 0.4f * (1 - t), 0.8f * (1 - t));
    }
}
