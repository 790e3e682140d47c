package dev.upcycle.moe;

import dev.upcycle.math.SeededGaussian;
import dev.upcycle.testing.MoeReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/**
 * Random layers and the configuration grid of docs/design.md,
 * "Invariants and the tests that check them": d=16, F=32 (64 when G=8), T=64 tokens x ~ N(0,1), seeds
 * 0..2, E in {2,4,8}, G in {1,2,4,8}, K in {1,2,4,8} with K <= N.
 */
public final class Fixtures {
    public static final int D = 16;
    public static final int T = 64;
    public static final long[] SEEDS = {0, 1, 2};
    public static final int[] EXPANSIONS = {2, 4, 8};
    public static final int[] GRANULARITIES = {1, 2, 4, 8};
    public static final int[] TOP_KS = {1, 2, 4, 8};
    public static final String ROUTER = "model.layers.0.mlp.gate.weight";

    /** Fixtures are deterministic and never modified, so each is built once (and memoised dense outputs hit). */
    private static final Map<List<Object>, Object> CACHE = new ConcurrentHashMap<>();

    private Fixtures() {
    }

    /** One point of the grid. */
    public record Config(int e, int g, int k, long seed) {
        public int n() {
            return e * g;
        }

        public int width() {
            return Fixtures.width(g);
        }

        public UpcycleSpec.Builder spec() {
            return UpcycleSpec.builder().expansion(e).granularity(g).topK(k).seed(seed);
        }

        @Override
        public String toString() {
            return "E" + e + "G" + g + "T" + k + " seed " + seed;
        }
    }

    /** Dense width for granularity {@code g}: 32, or 64 for G=8. */
    public static int width(int g) {
        return g == 8 ? 64 : 32;
    }

    /** Every valid grid point matching {@code filter}, as JUnit arguments. */
    public static Stream<Arguments> configs(Predicate<Config> filter) {
        List<Arguments> out = new ArrayList<>();
        for (long seed : SEEDS) {
            for (int e : EXPANSIONS) {
                for (int g : GRANULARITIES) {
                    for (int k : TOP_KS) {
                        Config c = new Config(e, g, k, seed);
                        if (k <= c.n() && filter.test(c)) {
                            out.add(Arguments.of(c));
                        }
                    }
                }
            }
        }
        return out.stream();
    }

    /** {@code n} floats from {@code N(0, std^2)}, rounded once. */
    public static float[] gaussian(long seed, String name, int n, double std) {
        SeededGaussian g = SeededGaussian.forName(seed, name);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) g.next(0, std);
        }
        return out;
    }

    /**
     * A random dense FFN whose pre-activations are of order 1 for x ~ N(0,1): gate/up std
     * {@code 1/sqrt(d)}, down std {@code 1/sqrt(F)}, biases std 0.5.
     */
    public static DenseFfn dense(long seed, int d, int f, boolean gated, boolean biases) {
        return (DenseFfn) CACHE.computeIfAbsent(List.of("dense", seed, d, f, gated, biases),
                k -> newDense(seed, d, f, gated, biases));
    }

    private static DenseFfn newDense(long seed, int d, int f, boolean gated, boolean biases) {
        float[] up = gaussian(seed, "up", f * d, 1 / Math.sqrt(d));
        float[] down = gaussian(seed, "down", d * f, 1 / Math.sqrt(f));
        float[] gate = gated ? gaussian(seed, "gate", f * d, 1 / Math.sqrt(d)) : null;
        DenseFfn dense = new DenseFfn(d, f, gate, up, down, null, null, null);
        if (!biases) {
            return dense;
        }
        return dense.withBiases(gated ? gaussian(seed, "gate.bias", f, 0.5) : null, gaussian(seed, "up.bias", f, 0.5),
                gaussian(seed, "down.bias", d, 0.5));
    }

    public static DenseFfn dense(Config c, FfnActivation a, boolean biases) {
        return dense(c.seed(), D, c.width(), a.isGated(), biases);
    }

    /** {@code T} tokens {@code x ~ N(0,1)}, float-valued so both precisions see the same inputs. */
    public static double[][] tokens(long seed, int t, int d) {
        return (double[][]) CACHE.computeIfAbsent(List.of("tokens", seed, t, d), k -> newTokens(seed, t, d));
    }

    private static double[][] newTokens(long seed, int t, int d) {
        float[] flat = gaussian(seed, "tokens", t * d, 1);
        double[][] xs = new double[t][d];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < d; j++) {
                xs[i][j] = flat[i * d + j];
            }
        }
        return xs;
    }

    /**
     * Arithmetic to check a config in: float32 always (the invariants' tolerances are float32 ones),
     * float64 as well for seed 0, which keeps the suite fast.
     */
    public static List<MoeReference.Precision> precisions(Config c) {
        return c.seed() == 0 ? List.of(MoeReference.Precision.F32, MoeReference.Precision.F64)
                : List.of(MoeReference.Precision.F32);
    }

    public static double[][] tokens(Config c) {
        return tokens(c.seed(), T, D);
    }
}
