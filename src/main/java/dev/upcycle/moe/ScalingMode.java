package dev.upcycle.moe;

/**
 * How the output scale {@code s} is spread over the expert projections (docs/method.md,
 * "Scaling modes").
 */
public enum ScalingMode {
    /**
     * Megatron-compatible equal split: {@code s^(1/3)} on each matrix (gated, squared ReLU) or
     * {@code s^(1/2)} (plain GELU, ReLU). Exact only for positively homogeneous activations.
     */
    PAPER("paper"),
    /** {@code c_u = c_d = sqrt(s)}, gate untouched: exact, because the output is linear in W_u and W_d. */
    EXACT_BALANCED("exact-balanced"),
    /** All of {@code s} on the down projection: exact, and bit-exact when {@code s} is a power of two. */
    EXACT_DOWN("exact-down"),
    /** No scaling: exact only when {@code s = 1}. */
    NONE("none");

    private final String cliName;

    ScalingMode(String cliName) {
        this.cliName = cliName;
    }

    /** The {@code --scaling} spelling. */
    public String cliName() {
        return cliName;
    }

    /** Parses a {@code --scaling} value. */
    public static ScalingMode parse(String text) {
        return CliNames.parse(values(), ScalingMode::cliName, "--scaling", "scaling mode", text);
    }

    @Override
    public String toString() {
        return cliName;
    }
}
