package dev.upcycle.reference;

/** A row-major {@code [rows, cols]} double matrix as stored by {@code nn.Linear} ({@code [out, in]}). */
record Mat(int rows, int cols, double[] w) {

    Mat {
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException(w.length + " values for " + rows + "x" + cols);
        }
    }

    /** {@code W x (+ bias)}: {@code nn.Linear}; {@code bias} may be null. */
    double[] apply(double[] x, double[] bias) {
        if (x.length != cols) {
            throw new IllegalArgumentException("input of " + x.length + " for " + rows + "x" + cols);
        }
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            int base = r * cols;
            for (int c = 0; c < cols; c++) {
                s += w[base + c] * x[c];
            }
            y[r] = bias == null ? s : s + bias[r];
        }
        return y;
    }

    double[] apply(double[] x) {
        return apply(x, null);
    }
}
