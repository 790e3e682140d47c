package dev.upcycle.moe;

/**
 * The weight-scaling rules of docs/method.md, "Scaling". Roots use {@link StrictMath} so the factors,
 * and therefore the output bytes, are the same on every JVM.
 */
public final class Scaling {
    private Scaling() {
    }

    /**
     * The output scale {@code s} the routed experts must carry (docs/method.md, "The output scale s"),
     * assuming each token's top-K set is {@code K/G} whole virtual groups:
     * <ul>
     *   <li>topK-softmax: the selected groups' weights sum to 1 and each expert gets a {@code 1/G}
     *       share of its group's weight, so the MoE gives {@code Dense/G}: {@code s = G};</li>
     *   <li>softmax-topK at a uniform router every {@code p_i = 1/N} and {@code K/G} groups
     *       contribute, giving {@code (K/(N G)) Dense}: {@code s = N G / K = E G^2 / K}
     *       (Megatron's {@code expansion_rate * granularity^2 / topk}).</li>
     * </ul>
     */
    public static double outputScale(UpcycleSpec spec) {
        return switch (spec.routing()) {
            case TOPK_SOFTMAX -> spec.granularity();
            case SOFTMAX_TOPK -> (double) spec.experts() * spec.granularity() / spec.topK();
        };
    }

    /**
     * The factors for {@code spec} on an FFN with {@code activation}, per the table in docs/method.md,
     * "Scaling modes", the down-bias rule of "Biases" and the shared-expert rule of "Shared experts".
     */
    public static ScaleFactors factors(UpcycleSpec spec, FfnActivation activation) {
        double s = outputScale(spec);
        double[] gud = projectionFactors(spec.scaling(), activation, s);
        boolean shared = spec.hasSharedExpert();
        boolean fullCopy = shared && spec.sharedExpertMode() == SharedExpertMode.FULL_COPY;
        // docs/method.md, "Biases": a routed expert's down bias enters the MoE as (sum of selected
        // weights) * b_e, which is G/s at the reference router (1 for topK-softmax, K/N for
        // softmax-topK). docs/method.md, "Shared experts": with a shared expert the dense bias goes
        // there instead (x2), routed get 0.
        double downBias = shared ? 0.0 : s / spec.granularity();
        // shared_expert_gate = 0 gives sigmoid(0) = 1/2 for every token.
        double sharedDown = shared ? 2.0 : 1.0;
        double cDown = fullCopy ? 0.0 : gud[2];
        return new ScaleFactors(s, gud[0], gud[1], cDown, downBias, sharedDown, fullCopy);
    }

    /**
     * {@code {c_g, c_u, c_d}} for one mode and activation, table in docs/method.md, "Scaling modes".
     */
    static double[] projectionFactors(ScalingMode mode, FfnActivation activation, double s) {
        return switch (mode) {
            case NONE -> new double[] {1, 1, 1};
            // All of s on the last matrix: the output is linear in W_d whatever the activation.
            case EXACT_DOWN -> new double[] {1, 1, s};
            case EXACT_BALANCED -> switch (activation) {
                // The output is linear in W_u and in W_d (the gate sits inside phi), so sqrt(s) each.
                case SILU_GLU, GELU_GLU, RELU -> new double[] {1, StrictMath.sqrt(s), StrictMath.sqrt(s)};
                // Plain non-gated MLPs other than ReLU have only W_d outside the activation.
                case SQUARED_RELU, GELU -> new double[] {1, 1, s};
            };
            case PAPER -> switch (activation) {
                // The paper's cube root: exact for squared ReLU (c on up gives c^2 through phi, times
                // c on down = c^3 = s); Megatron applies the same equal split to SwiGLU, which is
                // approximate because SiLU is not homogeneous.
                case SILU_GLU, GELU_GLU -> {
                    double c = StrictMath.cbrt(s);
                    yield new double[] {c, c, c};
                }
                case SQUARED_RELU -> {
                    double c = StrictMath.cbrt(s);
                    yield new double[] {1, c, c};
                }
                // Two matrices, equal split: sqrt(s) each (exact for ReLU, degree 1).
                case GELU, RELU -> {
                    double c = StrictMath.sqrt(s);
                    yield new double[] {1, c, c};
                }
            };
        };
    }
}
