package dev.upcycle.moe;

import java.util.Objects;

/**
 * Cuts expert tensors out of a dense FFN (docs/method.md, "Fine-grained experts"): gate/up rows and
 * their biases {@code J_j(n)} times {@code c_g} / {@code c_u}, down columns {@code J_j(n)} times
 * {@code c_d}. Every value is multiplied in float64 and rounded once to float32 (docs/formats.md,
 * "Dtypes"); a factor of exactly 1 therefore copies bits, and a factor of 0 writes {@code +0.0}.
 */
public final class ExpertSlicer {
    private ExpertSlicer() {
    }

    /** Routed expert {@code n} of {@code layout}, with {@code factors} applied. */
    public static ExpertTensors expert(DenseFfn dense, ExpertLayout layout, ScaleFactors factors, int n) {
        checkWidth(dense, layout);
        IndexRange rows = layout.gateUpRows(n);
        IndexRange cols = layout.downColumns(n);
        int d = dense.hidden();
        int f = dense.intermediate();
        return new ExpertTensors(d, rows.length(),
                dense.gate() == null ? null : sliceRows(dense.gate(), f, d, rows.start(), rows.end(), factors.cGate()),
                sliceRows(dense.up(), f, d, rows.start(), rows.end(), factors.cUp()),
                sliceColumns(dense.down(), d, f, cols.start(), cols.end(), factors.cDown()),
                sliceVector(dense.gateBias(), rows.start(), rows.end(), factors.cGate()),
                sliceVector(dense.upBias(), rows.start(), rows.end(), factors.cUp()),
                scale(dense.downBias(), factors.downBias()));
    }

    /**
     * The shared expert (docs/method.md, "Shared experts"): gate/up rows and down columns {@code I_s},
     * gate/up unscaled, down and the dense down bias times {@code sharedDown} (2 for the zero sigmoid
     * gate).
     *
     * @throws IllegalArgumentException when the layout has no shared expert
     */
    public static ExpertTensors sharedExpert(DenseFfn dense, ExpertLayout layout, ScaleFactors factors) {
        checkWidth(dense, layout);
        if (!layout.hasSharedExpert()) {
            throw new IllegalArgumentException("the layout has no shared expert");
        }
        IndexRange r = layout.sharedNeurons();
        int d = dense.hidden();
        int f = dense.intermediate();
        double gu = factors.sharedGateUp();
        return new ExpertTensors(d, r.length(),
                dense.gate() == null ? null : sliceRows(dense.gate(), f, d, r.start(), r.end(), gu),
                sliceRows(dense.up(), f, d, r.start(), r.end(), gu),
                sliceColumns(dense.down(), d, f, r.start(), r.end(), factors.sharedDown()),
                sliceVector(dense.gateBias(), r.start(), r.end(), gu),
                sliceVector(dense.upBias(), r.start(), r.end(), gu),
                scale(dense.downBias(), factors.sharedDown()));
    }

    /**
     * Rows {@code [start, end)} of a row-major {@code [rows, cols]} matrix, times {@code factor}.
     * The rows are contiguous, so on disk this is one byte range.
     */
    public static float[] sliceRows(float[] src, int rows, int cols, int start, int end, double factor) {
        checkMatrix(src, rows, cols);
        checkRange(start, end, rows, "row");
        float[] out = new float[(end - start) * cols];
        if (factor == 0.0) {
            return out;
        }
        int base = start * cols;
        for (int i = 0; i < out.length; i++) {
            out[i] = scaleOnce(src[base + i], factor);
        }
        return out;
    }

    /**
     * Columns {@code [start, end)} of a row-major {@code [rows, cols]} matrix, times
     * {@code factor}: a strided gather, result {@code [rows, end - start]}.
     */
    public static float[] sliceColumns(float[] src, int rows, int cols, int start, int end, double factor) {
        checkMatrix(src, rows, cols);
        checkRange(start, end, cols, "column");
        int w = end - start;
        float[] out = new float[rows * w];
        if (factor == 0.0) {
            return out;
        }
        for (int r = 0; r < rows; r++) {
            int from = r * cols + start;
            int to = r * w;
            for (int c = 0; c < w; c++) {
                out[to + c] = scaleOnce(src[from + c], factor);
            }
        }
        return out;
    }

    /** Elements {@code [start, end)} of a vector times {@code factor}; null stays null. */
    public static float[] sliceVector(float[] src, int start, int end, double factor) {
        if (src == null) {
            return null;
        }
        checkRange(start, end, src.length, "element");
        float[] out = new float[end - start];
        if (factor == 0.0) {
            return out;
        }
        for (int i = 0; i < out.length; i++) {
            out[i] = scaleOnce(src[start + i], factor);
        }
        return out;
    }

    /** A scaled copy of a whole tensor; null stays null. */
    public static float[] scale(float[] src, double factor) {
        return src == null ? null : sliceVector(src, 0, src.length, factor);
    }

    /** {@code v * factor} in float64, rounded once to float32 (docs/formats.md, "Dtypes"). */
    public static float scaleOnce(float v, double factor) {
        return factor == 1.0 ? v : (float) (v * factor);
    }

    private static void checkWidth(DenseFfn dense, ExpertLayout layout) {
        Objects.requireNonNull(dense, "dense");
        if (dense.intermediate() != layout.denseIntermediate()) {
            throw new IllegalArgumentException("dense FFN width " + dense.intermediate() + " but layout built for "
                    + layout.denseIntermediate());
        }
    }

    private static void checkMatrix(float[] src, int rows, int cols) {
        if (rows < 0 || cols < 0 || src.length != (long) rows * cols) {
            throw new IllegalArgumentException("matrix of " + src.length + " values is not [" + rows + ", " + cols + "]");
        }
    }

    private static void checkRange(int start, int end, int limit, String what) {
        if (start < 0 || end < start || end > limit) {
            throw new IllegalArgumentException(what + " range [" + start + ", " + end + ") outside 0.." + limit);
        }
    }
}
