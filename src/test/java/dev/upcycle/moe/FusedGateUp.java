package dev.upcycle.moe;

/**
 * Un-fuses a {@code gate_up_proj [2F, d]} (gate half first) before slicing (docs/method.md,
 * "Fine-grained experts"). Splitting the fused tensor contiguously into G pieces would mix gate rows
 * with up rows, which is what Megatron does for non-SiLU GLUs and which destroys the function (measured
 * error ~190 %).
 */
public final class FusedGateUp {
    private FusedGateUp() {
    }

    /** The gate and up halves of a fused projection, each {@code [F, d]}. */
    public record GateUp(float[] gate, float[] up) {
    }

    /** Splits {@code fused [2F, d]} into gate rows {@code [0, F)} and up rows {@code [F, 2F)}. */
    public static GateUp unfuse(float[] fused, int intermediate, int hidden) {
        if (fused.length != 2L * intermediate * hidden) {
            throw new IllegalArgumentException("fused gate_up of " + fused.length + " values is not [2*"
                    + intermediate + ", " + hidden + "]");
        }
        int half = intermediate * hidden;
        float[] gate = new float[half];
        float[] up = new float[half];
        System.arraycopy(fused, 0, gate, 0, half);
        System.arraycopy(fused, half, up, 0, half);
        return new GateUp(gate, up);
    }
}
