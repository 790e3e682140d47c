package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import dev.upcycle.data.Batcher;
import dev.upcycle.data.TokenData;
import dev.upcycle.data.TokenSource;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.Djl;
import dev.upcycle.runtime.Throughput;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * {@code scripts/bench train}: training throughput of an MoE and of a dense model in one process,
 * their step-time ratio, and model FLOP utilisation against the FP32 matmul ceiling measured in
 * the same run (a square matmul timed through DJL). Training FLOPs per token are
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
        double before = Throughput.matmulCeiling(1024, 20);
        System.out.printf(Locale.ROOT, "FP32 matmul ceiling (1024^3, DJL, %d threads visible): %.2f GFLOP/s at start%n",
                Runtime.getRuntime().availableProcessors(), before / 1e9);
        // Rounds alternate the two models, and each model's best round counts: on a shared machine the
        // fastest round is the least disturbed one, and alternating keeps either from always going first.
        double[] m = {0, 0};
        double[] d = {0, 0};
        for (int round = 1; round <= ROUNDS; round++) {
            m = best(m, measure("moe", moe, tokens, batch, seqLen, warmup, steps, before));
            d = best(d, measure("dense", dense, tokens, batch, seqLen, warmup, steps, before));
        }
        // Timed again once the engine's threads are warm: right after start-up one matmul can read
        // below what training then achieves. The higher of the two is the ceiling.
        double after = Throughput.matmulCeiling(1024, 20);
        double ceiling = Math.max(before, after);
        System.out.printf(Locale.ROOT, "FP32 matmul ceiling again after the rounds: %.2f GFLOP/s; using %.2f%n",
                after / 1e9, ceiling / 1e9);
        System.out.printf(Locale.ROOT, "best of %d rounds: moe %.0f tokens/s (MFU %.1f%%), dense %.0f tokens/s (MFU %.1f%%)%n",
                ROUNDS, m[0], 100 * m[1] * before / ceiling, d[0], 100 * d[1] * before / ceiling);
        System.out.printf(Locale.ROOT, "step time ratio moe/dense: %.2f (tokens/s dense/moe)%n", d[0] / m[0]);
    }

    /** Rounds per model. */
    private static final int ROUNDS = 3;

    private static double[] best(double[] a, double[] b) {
        return b[0] > a[0] ? b : a;
    }

    /** @return tokens/s and MFU */
    static double[] measure(String label, Path dir, int[] tokens, int batch, int seqLen, int warmup, int steps,
            double ceiling) {
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
            double mfu = tps * flopsPerToken / ceiling;
            System.out.printf(Locale.ROOT, "%-5s %s: %d steps of %d x %d in %.1f s: %.0f tokens/s, %.1f ms/step, "
                            + "%.2f MFLOP/token, %.2f GFLOP/s achieved, MFU %.1f%% of the start ceiling%n", label, dir, steps, batch, seqLen,
                    seconds, tps, 1000 * seconds / steps, flopsPerToken / 1e6, tps * flopsPerToken / 1e9, 100 * mfu);
            StringBuilder where = new StringBuilder("      per step:");
            for (int i = 0; i < PHASES.length; i++) {
                where.append(String.format(Locale.ROOT, " %s %.0f ms (%.0f%%)", PHASES[i], phases[i] / 1e6 / steps,
                        100.0 * phases[i] / 1e9 / seconds));
            }
            System.out.println(where);
            return new double[] {tps, mfu};
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
