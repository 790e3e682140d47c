package dev.upcycle.train;

import dev.upcycle.io.CheckpointWriter;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * What the PNG charts share: a white canvas drawn headless, text that survives a server without
 * fonts, tick marks at round numbers, and an atomic write (the same image gives the same bytes).
 */
final class Chart {
    static final Font FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    static final Color GRID = new Color(225, 225, 225);
    static final Color INK = new Color(40, 40, 40);

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Chart() {
    }

    static BufferedImage image(int width, int height) {
        return new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    }

    static Graphics2D canvas(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        try {
            g.setFont(FONT);
        } catch (RuntimeException | Error e) {
            // no usable font: text() draws nothing, the marks and colours remain
        }
        return g;
    }

    /** Draws {@code s} with its left end at x (align 0), its centre (0.5) or its right end (1). */
    static void text(Graphics2D g, String s, int x, int y, double align, Color c) {
        try {
            g.setColor(c);
            int w = g.getFontMetrics().stringWidth(s);
            g.drawString(s, x - (int) Math.round(w * align), y);
        } catch (RuntimeException | Error e) {
            // Fonts can be missing on a bare server; the chart is still useful without its labels.
        }
    }

    /** Text turned a quarter counter-clockwise, centred on (x, y): a y-axis title. */
    static void verticalText(Graphics2D g, String s, int x, int y, Color c) {
        Graphics2D r = (Graphics2D) g.create();
        try {
            r.translate(x, y);
            r.rotate(-Math.PI / 2);
            text(r, s, 0, 0, 0.5, c);
        } finally {
            r.dispose();
        }
    }

    /**
     * About {@code target} tick marks covering [lo, hi] at multiples of 1, 2 or 5 times a power
     * of ten.
     *
     * @param first the first tick at or above lo
     * @param step  the distance between ticks
     */
    record Ticks(double first, double step, int count) {
        static Ticks of(double lo, double hi, int target) {
            if (!(hi > lo)) {
                hi = lo + 1;
            }
            double raw = (hi - lo) / Math.max(1, target);
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double unit = raw / magnitude;
            double step = (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * magnitude;
            double first = Math.ceil(lo / step - 1e-9) * step;
            int count = (int) Math.floor((hi - first) / step + 1e-9) + 1;
            return new Ticks(first, step, Math.max(0, count));
        }

        double at(int i) {
            return first + i * step;
        }

        /** Decimals that tell neighbouring ticks apart. */
        String label(double v) {
            int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
            return String.format(Locale.ROOT, "%." + decimals + "f", Math.abs(v) < step / 1e6 ? 0.0 : v);
        }

        /** Counts such as tokens, scaled by the largest tick: 0, 50k, 100k or 0, 0.5M, 1.0M. */
        String countLabel(double v) {
            double top = Math.max(Math.abs(first), Math.abs(at(Math.max(0, count - 1))));
            int power = top < 1000 ? 0 : Math.min(4, (int) Math.floor(Math.log10(top) / 3));
            if (power == 0 || Math.abs(v) < step / 1e6) {
                return label(v);
            }
            double scale = Math.pow(1000, power);
            int decimals = Math.max(0, (int) -Math.floor(Math.log10(step / scale) + 1e-9));
            return String.format(Locale.ROOT, "%." + decimals + "f%s", v / scale, "kMGT".charAt(power - 1));
        }
    }

    /** The PNG bytes of {@code img}. */
    static byte[] png(BufferedImage img) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            if (!ImageIO.write(img, "png", bytes)) {
                throw new IOException("no PNG writer");
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in memory: cannot happen with a PNG writer present
        }
    }

    /** Writes {@code img} as a PNG under a temporary name, renamed when complete. */
    static void write(BufferedImage img, Path file) {
        CheckpointWriter.writeAtomically(file, png(img));
    }
}
