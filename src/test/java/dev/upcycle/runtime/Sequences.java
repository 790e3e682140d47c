package dev.upcycle.runtime;

import java.util.SplittableRandom;

/** Token sequences and error measures for runtime tests. */
public final class Sequences {
    private Sequences() {
    }

    public static int[] random(int length, int vocab, long seed) {
        return new SplittableRandom(seed).ints(length, 0, vocab).toArray();
    }

    /** {@code max|a − b| / max|b|}. */
    public static double relError(float[][] a, float[][] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                diff = Math.max(diff, Math.abs((double) a[i][j] - b[i][j]));
                scale = Math.max(scale, Math.abs(b[i][j]));
            }
        }
        return diff / scale;
    }

    /** {@code double} logits against float ones. */
    public static double relError(float[][] a, double[][] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                diff = Math.max(diff, Math.abs(a[i][j] - b[i][j]));
                scale = Math.max(scale, Math.abs(b[i][j]));
            }
        }
        return diff / scale;
    }

    public static float[][] rows(float[] flat, int width) {
        float[][] out = new float[flat.length / width][];
        for (int i = 0; i < out.length; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * width, (i + 1) * width);
        }
        return out;
    }
}
