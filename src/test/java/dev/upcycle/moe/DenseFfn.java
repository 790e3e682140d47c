package dev.upcycle.moe;

/**
 * One dense FFN as row-major float arrays in HF layout ({@code [out, in]}), docs/method.md, "Notation":
 * {@code gate, up [F, d]}, {@code down [d, F]}, optional biases {@code [F]}, {@code [F]}, {@code [d]}.
 * The arrays are shared, not copied: callers must not modify them while slicing.
 *
 * @param hidden       {@code d}
 * @param intermediate {@code F}
 * @param gate         {@code [F, d]}, or null for a plain (non-gated) MLP
 * @param up           {@code [F, d]}
 * @param down         {@code [d, F]}
 * @param gateBias     {@code [F]} or null
 * @param upBias       {@code [F]} or null
 * @param downBias     {@code [d]} or null
 */
public record DenseFfn(int hidden, int intermediate, float[] gate, float[] up, float[] down, float[] gateBias,
                       float[] upBias, float[] downBias) {

    public DenseFfn {
        if (hidden < 1 || intermediate < 1) {
            throw new IllegalArgumentException("dense FFN needs d, F >= 1, got d=" + hidden + " F=" + intermediate);
        }
        long matrix = (long) hidden * intermediate;
        check("gate", gate, matrix, true);
        check("up", up, matrix, false);
        check("down", down, matrix, false);
        check("gate bias", gateBias, intermediate, true);
        check("up bias", upBias, intermediate, true);
        check("down bias", downBias, hidden, true);
        if (gate == null && gateBias != null) {
            throw new IllegalArgumentException("gate bias without a gate projection");
        }
    }

    /** A gated FFN without biases (Llama, Mistral, Qwen). */
    public static DenseFfn gated(int hidden, int intermediate, float[] gate, float[] up, float[] down) {
        return new DenseFfn(hidden, intermediate, gate, up, down, null, null, null);
    }

    /** A plain FFN without biases. */
    public static DenseFfn plain(int hidden, int intermediate, float[] up, float[] down) {
        return new DenseFfn(hidden, intermediate, null, up, down, null, null, null);
    }

    /** This FFN with the given biases (any may be null). */
    public DenseFfn withBiases(float[] gateBias, float[] upBias, float[] downBias) {
        return new DenseFfn(hidden, intermediate, gate, up, down, gateBias, upBias, downBias);
    }

    public boolean isGated() {
        return gate != null;
    }

    private static void check(String what, float[] a, long expected, boolean optional) {
        if (a == null) {
            if (!optional) {
                throw new IllegalArgumentException("dense FFN " + what + " is missing");
            }
        } else if (a.length != expected) {
            throw new IllegalArgumentException("dense FFN " + what + " has " + a.length + " values, expected "
                    + expected);
        }
    }
}
