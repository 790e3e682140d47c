package dev.upcycle.moe;

/** How the router weight {@code R [N, d]} is initialised (docs/method.md, "Router initialisation"). */
public enum RouterInit {
    /**
     * {@code E} rows drawn from {@code N(0, sigma^2)}, row {@code v} repeated for the {@code G}
     * experts of virtual group {@code v}, so a group's experts always tie (Megatron's layout).
     */
    VIRTUAL_GROUP("virtual-group"),
    /** {@code N} independent rows; function-preserving only for {@code G = 1}. */
    RANDOM("random"),
    /**
     * All zeros: every logit ties, so the top-K's tie order picks the first selection. Exact at
     * step 0 only where no selection matters ({@code G = 1} or {@code K = N}).
     */
    ZERO("zero");

    private final String cliName;

    RouterInit(String cliName) {
        this.cliName = cliName;
    }

    /** The {@code --router-init} spelling. */
    public String cliName() {
        return cliName;
    }

    /** Parses a {@code --router-init} value. */
    public static RouterInit parse(String text) {
        return CliNames.parse(values(), RouterInit::cliName, "--router-init", "router initialisation", text);
    }

    @Override
    public String toString() {
        return cliName;
    }
}
