package dev.upcycle.runtime;

import java.util.SplittableRandom;

/** Token sequences for runtime tests. */
public final class Sequences {
    private Sequences() {
    }

    public static int[] random(int length, int vocab, long seed) {
        return new SplittableRandom(seed).ints(length, 0, vocab).toArray();
    }

    public static float[][] rows(float[] flat, int width) {
        float[][] out = new float[flat.length / width][];
        for (int i = 0; i < out.length; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * width, (i + 1) * width);
        }
        return out;
    }
}
