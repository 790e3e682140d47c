package dev.upcycle.train;

/**
 * Learning rate of optimizer step {@code s} (0-based): linear warmup from {@code peak/warmup} to
 * {@code peak} over the first {@code warmup} steps, then either a cosine from {@code peak} down
 * to {@code min} at the last step, or {@code peak} held constant.
 *
 * <p>The default is to <em>reset</em> the schedule, warmup to the pre-training peak and cosine
 * decay, because that is what the upcycling paper found best (docs/method.md,
 * "Learning-rate schedule"): on the 2B model a constant LR at the pre-training minimum (2e-5) started
 * lower but plateaued, while a peak of 1e-4 or 2e-4 with cosine decay to 2e-5 won and caused no
 * catastrophic forgetting.
 */
public record LrSchedule(double peak, double min, int warmup, int steps, TrainConfig.Schedule shape) {

    public static LrSchedule of(TrainConfig c) {
        return new LrSchedule(c.lr(), c.minLr(), c.warmup(), c.steps(), c.schedule());
    }

    public double at(int step) {
        if (step < warmup) {
            return peak * (step + 1) / warmup;
        }
        if (shape == TrainConfig.Schedule.CONSTANT) {
            return peak;
        }
        int decay = steps - warmup - 1;
        double progress = decay <= 0 ? 1.0 : Math.min(1.0, (double) (step - warmup) / decay);
        return min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * progress));
    }
}
