package dev.upcycle.testing;

/**
 * The tolerance metric of every numeric comparison in the tests (docs/design.md's invariant
 * tables; docs/method.md, "Measured errors"): {@code max|a - b| / max|b|} over all entries, with
 * {@code b} the reference. Floats are widened to double before subtracting, so the difference is exact.
 */
public final class RelativeError {
    private RelativeError() {
    }

    /** The metric over rows; 0 when both are all zero, infinite when only {@code b} is. Shapes must agree. */
    public static double of(double[][] a, double[][] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(a.length + " rows vs " + b.length);
        }
        double maxDiff = 0;
        double maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i].length != b[i].length) {
                throw new IllegalArgumentException("row " + i + ": " + a[i].length + " vs " + b[i].length);
            }
            for (int j = 0; j < a[i].length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(a[i][j] - b[i][j]));
                maxRef = Math.max(maxRef, Math.abs(b[i][j]));
            }
        }
        return maxRef == 0 ? (maxDiff == 0 ? 0 : Double.POSITIVE_INFINITY) : maxDiff / maxRef;
    }

    /** Float results (a runtime's logits) against a double reference. */
    public static double of(float[][] a, double[][] b) {
        return of(widen(a), b);
    }

    public static double of(float[][] a, float[][] b) {
        return of(widen(a), widen(b));
    }

    /** One vector (one token). */
    public static double of(double[] a, double[] b) {
        return of(new double[][] {a}, new double[][] {b});
    }

    /** {@code flat} read as rows as wide as {@code b}'s. */
    public static double of(float[] flat, float[][] b) {
        int width = b.length == 0 ? 0 : b[0].length;
        if (flat.length != b.length * width) {
            throw new IllegalArgumentException(flat.length + " values for " + b.length + " rows of " + width);
        }
        float[][] rows = new float[b.length][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = java.util.Arrays.copyOfRange(flat, i * width, (i + 1) * width);
        }
        return of(rows, b);
    }

    private static double[][] widen(float[][] a) {
        double[][] out = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            out[i] = new double[a[i].length];
            for (int j = 0; j < a[i].length; j++) {
                out[i][j] = a[i][j];
            }
        }
        return out;
    }
}
