package dev.upcycle.moe;

/**
 * How a Qwen2-MoE-style shared expert is carved out of the dense FFN (docs/method.md,
 * "Shared experts").
 */
public enum SharedExpertMode {
    /**
     * The first {@code F_s} dense neurons form the shared expert (down x2 for the sigmoid gate at
     * zero), the remaining {@code F - F_s} neurons are sharded into the routed experts.
     */
    SPLIT("split"),
    /**
     * The shared expert is the whole dense FFN (down x2); routed experts are sharded from all
     * {@code F} neurons but their down projections are zeroed. Exact at step 0, but routed
     * gate/up get no gradient until the down projections move away from zero.
     */
    FULL_COPY("full-copy");

    private final String cliName;

    SharedExpertMode(String cliName) {
        this.cliName = cliName;
    }

    /** The {@code --shared-expert-mode} spelling. */
    public String cliName() {
        return cliName;
    }

    /** Parses a {@code --shared-expert-mode} value. */
    public static SharedExpertMode parse(String text) {
        return CliNames.parse(values(), SharedExpertMode::cliName, "--shared-expert-mode",
                "shared-expert mode", text);
    }

    @Override
    public String toString() {
        return cliName;
    }
}
