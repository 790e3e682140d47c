package dev.upcycle.moe;

/**
 * The tensors of one expert (routed or shared), already scaled: {@code gate, up [width, d]},
 * {@code down [d, width]}, biases {@code [width]}, {@code [width]}, {@code [d]}. Absent
 * projections and biases are null.
 */
public record ExpertTensors(int hidden, int width, float[] gate, float[] up, float[] down, float[] gateBias,
                            float[] upBias, float[] downBias) {

    /** Weights in this expert (biases excluded). */
    public long parameters() {
        return (gate == null ? 0L : gate.length) + up.length + down.length;
    }
}
