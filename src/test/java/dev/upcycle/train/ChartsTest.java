package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loss chart, the expert-load chart and their tick marks, read back pixel by pixel. */
class ChartsTest {
    @TempDir
    Path tmp;

    /** Train steps with a constant loss and an eval every 10 steps at {@code eval}. */
    private static List<StepMetrics> run(int steps, double loss, double eval, Map<Integer, double[]> load) {
        List<StepMetrics> m = new ArrayList<>();
        for (int s = 1; s <= steps; s++) {
            m.add(new StepMetrics(s, 1e-3, loss + 0.05 * Math.sin(s), 0, 0, 1, 1000, load, null));
            if (s % 10 == 0) {
                m.add(StepMetrics.eval(s, eval));
            }
        }
        return m;
    }

    @Test
    void ticksFallOnRoundNumbersWithLabelsThatTellThemApart() {
        Chart.Ticks tokens = Chart.Ticks.of(0, 19_200, 8);
        assertThat(tokens.step()).isEqualTo(5000);
        assertThat(tokens.count()).isEqualTo(4);
        assertThat(List.of(tokens.countLabel(tokens.at(0)), tokens.countLabel(tokens.at(1)),
                tokens.countLabel(tokens.at(3)))).containsExactly("0", "5k", "15k");
        Chart.Ticks millions = Chart.Ticks.of(0, 1_600_000, 4);
        assertThat(millions.countLabel(millions.at(1))).isEqualTo("0.5M");
        Chart.Ticks loss = Chart.Ticks.of(1.73, 2.12, 6);
        assertThat(loss.step()).isCloseTo(0.1, within(1e-12));
        assertThat(loss.label(loss.at(0))).isEqualTo("1.8");
        assertThat(loss.label(loss.at(loss.count() - 1))).isEqualTo("2.1");
    }

    @Test
    void smoothingIsACentredMeanWithoutLag() {
        double[] v = new double[40];
        v[20] = 5;
        double[] s = LossChart.smooth(v);
        // 40 steps: a mean over 5, so the spike is spread over steps 18..22 and does not move.
        for (int i = 18; i <= 22; i++) {
            assertThat(s[i]).isEqualTo(1);
        }
        assertThat(s[17]).isZero();
        assertThat(s[23]).isZero();
        assertThat(LossChart.smooth(new double[] {2, 2, 2})).containsExactly(2, 2, 2);
    }

    @Test
    void runsShareOneChartAndTheLowerLossIsDrawnLower() throws Exception {
        LossChart.Series low = new LossChart.Series("runs/moe", 256, run(60, 2.0, 1.9, Map.of()));
        LossChart.Series high = new LossChart.Series("runs/dense", 256, run(60, 3.0, 2.9, Map.of()));
        BufferedImage img = LossChart.draw(List.of(low, high));
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(img.getHeight()).isGreaterThan(LossChart.TOP + LossChart.PLOT_H);
        double lowRow = meanRow(img, LossChart.PALETTE[0]);
        double highRow = meanRow(img, LossChart.PALETTE[1]);
        assertThat(lowRow).as("both runs are drawn in the plot area").isPositive();
        assertThat(highRow).isPositive();
        // y grows downwards: the run with the lower loss sits lower on the image.
        assertThat(lowRow - highRow).isGreaterThan(LossChart.PLOT_H / 2.0);
        // Same input, same bytes.
        assertThat(Chart.png(LossChart.draw(List.of(low, high)))).isEqualTo(Chart.png(img));
    }

    /** Mean row of the pixels within a small distance of {@code c} inside the plot area, or -1. */
    private static double meanRow(BufferedImage img, Color c) {
        long sum = 0;
        int n = 0;
        for (int y = LossChart.TOP + 1; y < LossChart.TOP + LossChart.PLOT_H; y++) {
            for (int x = 80; x < img.getWidth() - 30; x++) {
                if (close(new Color(img.getRGB(x, y)), c, 12)) {
                    sum += y;
                    n++;
                }
            }
        }
        return n < 50 ? -1 : (double) sum / n;
    }

    private static boolean close(Color a, Color b, int d) {
        return Math.abs(a.getRed() - b.getRed()) <= d && Math.abs(a.getGreen() - b.getGreen()) <= d
                && Math.abs(a.getBlue() - b.getBlue()) <= d;
    }

    @Test
    void aDenseRunGetsNoExpertLoadImage() {
        Path file = tmp.resolve(Plots.LOAD_FILE);
        Plots.expertLoad(run(20, 2, 2, Map.of()), file);
        assertThat(file).doesNotExist();
        assertThat(ExpertLoadChart.draw(run(20, 2, 2, Map.of()))).isNull();
    }

    @Test
    void expertLoadShowsACollapsedExpertAndTheColourScale() throws Exception {
        double[] collapsed = new double[8];
        collapsed[3] = 1; // every routed slot of layer 1 goes to expert 3
        double[] balanced = new double[8];
        java.util.Arrays.fill(balanced, 1.0 / 8);
        Path file = tmp.resolve(Plots.LOAD_FILE);
        Plots.expertLoad(run(30, 2, 2, Map.of(0, balanced, 1, collapsed)), file);
        BufferedImage img = ImageIO.read(file.toFile());
        assertThat(img.getWidth()).isEqualTo(900);
        int balancedBlue = ExpertLoadChart.colour(1).getRGB();
        int darkRed = ExpertLoadChart.colour(ExpertLoadChart.SCALE_MAX).getRGB();
        long blue = 0;
        long red = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < ExpertLoadChart.SCALE_LEFT; x++) {
                blue += img.getRGB(x, y) == balancedBlue ? 1 : 0;
                red += img.getRGB(x, y) == darkRed ? 1 : 0;
            }
        }
        // Layer 0: 8 balanced rows; layer 1: one saturated row (expert 3), seven white ones.
        assertThat(blue).isGreaterThan(7 * red).isGreaterThan(1000);
        assertThat(red).isGreaterThan(100);
        // The colour scale runs from dark red (3/E and more) at the top through blue (balanced) to white (0).
        int x = ExpertLoadChart.SCALE_LEFT + 9;
        int redRow = -1;
        int blueRow = -1;
        int whiteRow = -1;
        for (int y = ExpertLoadChart.TOP + 2; y < img.getHeight(); y++) {
            Color c = new Color(img.getRGB(x, y));
            redRow = redRow < 0 && close(c, ExpertLoadChart.colour(ExpertLoadChart.SCALE_MAX), 6) ? y : redRow;
            blueRow = blueRow < 0 && close(c, ExpertLoadChart.colour(1), 6) ? y : blueRow;
            whiteRow = whiteRow < 0 && blueRow > 0 && close(c, Color.WHITE, 6) ? y : whiteRow;
        }
        assertThat(redRow).isEqualTo(ExpertLoadChart.TOP + 2);
        assertThat(blueRow).isGreaterThan(redRow + 50);
        assertThat(whiteRow).isGreaterThan(blueRow + 30);
        assertThat(Files.size(file)).isPositive();
    }
}
