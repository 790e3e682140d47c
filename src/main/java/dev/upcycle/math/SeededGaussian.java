package dev.upcycle.math;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Normal samples that are the same on every JVM and platform: SplittableRandom's bit stream is
 * specified, and Box-Muller with StrictMath is reproducible bit for bit, unlike
 * RandomGenerator.nextGaussian whose algorithm is not part of its contract. Streams are keyed by
 * a seed and a name (a tensor name), so any tensor can be generated alone and in any order.
 */
public final class SeededGaussian {
    private final SplittableRandom random;
    private double spare;
    private boolean hasSpare;

    private SeededGaussian(long key) {
        this.random = new SplittableRandom(key);
    }

    /** A stream for one named object under a user seed. */
    public static SeededGaussian forName(long seed, String name) {
        return new SeededGaussian(mix(seed, name));
    }

    /** Next N(0, 1) sample. */
    public double next() {
        if (hasSpare) {
            hasSpare = false;
            return spare;
        }
        double u1;
        do {
            u1 = random.nextDouble();
        } while (u1 <= 0.0);
        double u2 = random.nextDouble();
        double r = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
        double theta = 2.0 * StrictMath.PI * u2;
        spare = r * StrictMath.sin(theta);
        hasSpare = true;
        return r * StrictMath.cos(theta);
    }

    /** Next N(mean, std^2) sample. */
    public double next(double mean, double std) {
        return mean + std * next();
    }

    /** Uniform in [0, 1). */
    public double uniform() {
        return random.nextDouble();
    }

    /** FNV-1a over the name's UTF-8 bytes, folded with the seed through a SplitMix64 finaliser. */
    static long mix(long seed, String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= (b & 0xff);
            h *= 0x100000001b3L;
        }
        long z = h ^ (seed * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
