package dev.upcycle.train;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

/**
 * The PNG plots a train run writes into its directory: {@code loss.png} (train loss against
 * tokens, smoothed, with the eval losses; see {@link LossChart}) and, for a model with routed
 * experts only, {@code expert-load.png} (see {@link ExpertLoadChart}). Drawn headless by our own
 * code, so the same metrics give the same bytes.
 */
public final class Plots {
    public static final String LOSS_FILE = "loss.png";
    public static final String LOAD_FILE = "expert-load.png";

    private Plots() {
    }

    /** {@code loss.png} of one run. */
    public static void loss(List<StepMetrics> metrics, long tokensPerStep, String label, Path file) {
        Chart.write(LossChart.draw(List.of(new LossChart.Series(label, tokensPerStep, metrics))), file);
    }

    /** {@code expert-load.png} when the run routed tokens; a dense run gets none rather than an empty image. */
    public static void expertLoad(List<StepMetrics> metrics, Path file) {
        BufferedImage img = ExpertLoadChart.draw(metrics);
        if (img != null) {
            Chart.write(img, file);
        }
    }
}
