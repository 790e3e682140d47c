package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import dev.upcycle.data.Batcher;
import dev.upcycle.data.TokenData;
import dev.upcycle.data.TokenSource;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.CpuPeak;
import dev.upcycle.runtime.Djl;
import dev.upcycle.runtime.Throughput;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * {@code scripts/bench train}: training throughput of an MoE and of a dense model in one process,
 * their step-time ratio, and model FLOP utilisation against two denominators: the cores' FP32 peak
 * read from the machine ({@link CpuPeak}, which does not move with the load), and the FP32 matmul
 * ceiling measured through DJL in the same run (the best of several sizes and repeats, before and
 * after the rounds: an upper envelope of what libtorch reaches here, low when the machine is
 * shared). Either MFU above 100 % is printed with the reason. Training FLOPs per token are
 * {@code 6·N_active + 12·L·T·d} (Kaplan / PaLM: forward and backward of every matmul weight,
 * plus attention scores and values), where {@code N_active} counts the matrices a token passes
 * through (the embedding lookup is not a matmul; the LM head is).
 *
 * <p>Usage: {@code TrainBench MOE_DIR DENSE_DIR DATA [batch seqLen steps warmup]}; warm-up steps are
 * untimed (the JIT, the allocator and libtorch's kernels settle first).
 */
public final class TrainBench {
    private TrainBench() {
    }

    public static void main(String[] args) {
        Djl.offline();
        Path moe = Path.of(args[0]);
        Path dense = Path.of(args[1]);
        int[] tokens = TokenData.bytes(Path.of(args[2]), 1 << 22);
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int seqLen = args.length > 4 ? Integer.parseInt(args[4]) : 256;
        int steps = args.length > 5 ? Integer.parseInt(args[5]) : 10;
        int warmup = args.length > 6 ? Integer.parseInt(args[6]) : 5;
        CpuPeak peak = CpuPeak.probe();
        System.out.printf(Locale.ROOT, "FP32 peak of the cores: %.1f GFLOP/s = %s%n", peak.flops() / 1e9, peak.how());
        double before = Throughput.matmulEnvelope(CEILING_REPS, CEILING_SIZES);
        System.out.printf(Locale.ROOT, "FP32 matmul ceiling through DJL at start: %.1f GFLOP/s (best of %s, %d runs each, "
                + "%d threads visible)%n", before / 1e9, sizes(), CEILING_REPS, Runtime.getRuntime().availableProcessors());
        // Rounds alternate the two models, and each model's best round counts: on a shared machine the
        // fastest round is the least disturbed one, and alternating keeps either from always going first.
        double[] m = {0, 0};
        double[] d = {0, 0};
        for (int round = 1; round <= ROUNDS; round++) {
            m = best(m, measure("moe", moe, tokens, batch, seqLen, warmup, steps));
            d = best(d, measure("dense", dense, tokens, batch, seqLen, warmup, steps));
        }
        // Timed again once the engine's threads are warm: right after start-up a matmul can read
        // below what training then achieves. The higher of the two is the ceiling.
        double after = Throughput.matmulEnvelope(CEILING_REPS, CEILING_SIZES);
        double ceiling = Math.max(before, after);
        System.out.printf(Locale.ROOT, "FP32 matmul ceiling again after the rounds: %.1f GFLOP/s; using %.1f GFLOP/s "
                + "(%.0f%% of the cores' peak%s)%n", after / 1e9, ceiling / 1e9, peak.percent(ceiling),
                peak.percent(ceiling) > 100 ? "; above 100 %: " + ABOVE_PEAK : "");
        System.out.printf(Locale.ROOT, "best of %d rounds: moe %.0f tokens/s, %.1f GFLOP/s; dense %.0f tokens/s, %.1f GFLOP/s%n",
                ROUNDS, m[0], m[1] / 1e9, d[0], d[1] / 1e9);
        System.out.println(mfuLine("of the cores' FP32 peak", peak.percent(m[1]), peak.percent(d[1]), ABOVE_PEAK));
        System.out.println(mfuLine("of the measured matmul ceiling", 100 * m[1] / ceiling, 100 * d[1] / ceiling,
                ABOVE_CEILING));
        System.out.printf(Locale.ROOT, "step time ratio moe/dense: %.2f (tokens/s dense/moe)%n", d[0] / m[0]);
    }

    /** Matmul sizes and repeats of the ceiling: small, medium and large GEMMs peak at different sizes. */
    private static final int[] CEILING_SIZES = {512, 1024, 2048};
    private static final int CEILING_REPS = 8;

    static final String ABOVE_PEAK = "the cores ran faster than the clock read from the machine (a virtual machine "
            + "reports its nominal clock), or the FLOP per cycle assumed are too few; set " + CpuPeak.OVERRIDE;
    static final String ABOVE_CEILING = "the matmuls were timed while other processes held the cores, so the ceiling "
            + "read low; the peak line above does not depend on the load";

    /** {@code "MFU <against>: moe a %, dense b %"}, with the reason when either exceeds 100 %. */
    static String mfuLine(String against, double moePercent, double densePercent, String whyAbove) {
        String line = String.format(Locale.ROOT, "MFU %s: moe %.1f%%, dense %.1f%%", against, moePercent, densePercent);
        return moePercent > 100 || densePercent > 100 ? line + " (above 100 %: " + whyAbove + ")" : line;
    }

    private static String sizes() {
        StringBuilder b = new StringBuilder();
        for (int n : CEILING_SIZES) {
            b.append(b.length() == 0 ? "" : ", ").append(n).append('^').append(3);
        }
        return b.toString();
    }

    /** Rounds per model. */
    private static final int ROUNDS = 3;

    private static double[] best(double[] a, double[] b) {
        return b[0] > a[0] ? b : a;
    }

    /** @return tokens/s and FLOP/s achieved */
    static double[] measure(String label, Path dir, int[] tokens, int batch, int seqLen, int warmup, int steps) {
        try (CausalLm lm = CausalLm.load(dir)) {
            Map<String, NDArray> params = lm.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));
            AdamW opt = new AdamW(lm.manager(), params, 0.1);
            TrainConfig c = new TrainConfig(dir, new TokenSource(dir, null, true, null), null, dir, steps, batch, seqLen, 1,
                    1e-3, 1e-4, 0, TrainConfig.Schedule.CONSTANT, 0.1, 1e-2, 0, 1.0, 0, 2, 0, 1, null,
                    TrainConfig.DeviceChoice.CPU, 0, false);
            Batcher data = new Batcher(tokens, seqLen, 0, 0);
            for (int i = 0; i < warmup; i++) {
                step(lm, data, c, params, opt, new long[PHASES.length]);
            }
            long[] phases = new long[PHASES.length];
            long t0 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                step(lm, data, c, params, opt, phases);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            double tps = (double) steps * batch * seqLen / seconds;
            double flopsPerToken = 6.0 * Throughput.activeMatmulParams(lm.config()) + 12.0 * lm.config().numHiddenLayers()
                    * seqLen * lm.config().numAttentionHeads() * lm.config().headDim();
            double achieved = tps * flopsPerToken;
            System.out.printf(Locale.ROOT, "%-5s %s: %d steps of %d x %d in %.1f s: %.0f tokens/s, %.1f ms/step, "
                            + "%.2f MFLOP/token, %.2f GFLOP/s achieved%n", label, dir, steps, batch, seqLen,
                    seconds, tps, 1000 * seconds / steps, flopsPerToken / 1e6, achieved / 1e9);
            StringBuilder where = new StringBuilder("      per step:");
            for (int i = 0; i < PHASES.length; i++) {
                where.append(String.format(Locale.ROOT, " %s %.0f ms (%.0f%%)", PHASES[i], phases[i] / 1e6 / steps,
                        100.0 * phases[i] / 1e9 / seconds));
            }
            System.out.println(where);
            return new double[] {tps, achieved};
        }
    }

    /** Where a step's time goes, in the order the loop runs them. */
    private static final String[] PHASES = {"forward+backward", "clip", "optimizer"};

    private static void step(CausalLm lm, Batcher data, TrainConfig c, Map<String, NDArray> params, AdamW opt,
            long[] phases) {
        long t = System.nanoTime();
        TrainLoop.forwardBackward(lm, data, c);
        t = lap(phases, 0, t);
        GradClip.clip(params.values(), c.gradClip());
        t = lap(phases, 1, t);
        opt.step(params, c.lr());
        lap(phases, 2, t);
    }

    private static long lap(long[] phases, int i, long since) {
        long now = System.nanoTime();
        phases[i] += now - since;
        return now;
    }
}
