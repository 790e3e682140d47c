package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;

/**
 * Decides whether step 0 of an upcycled model reproduces the dense model, following
 * docs/method.md, "Exactness" and "Conditions, and why". The measured errors quoted come
 * from the table in "Measured errors" (d=16, F=32/64, x ~ N(0,1)); they are indicative for real models.
 */
public final class FidelityAnalysis {
    /**
     * docs/method.md, "Measured errors" (paper rows): worst measured error of paper scaling on
     * non-homogeneous activations.
     */
    static final double PAPER_SWIGLU_ERROR = 1.2e-1;
    static final double PAPER_GEGLU_ERROR = 7.4e-2;
    static final double PAPER_GELU_ERROR = 1.3e-1;
    /** The largest s of the "Measured errors" grid (G up to 4 with topk-softmax). */
    static final double MEASURED_MAX_S = 4;
    /** docs/method.md, "Measured errors": a top-K set that cuts a virtual group. */
    static final double CUT_GROUP_ERROR = 1.8;
    /** docs/method.md, "Measured errors": independent router rows with G > 1. */
    static final double INDEPENDENT_ROWS_ERROR = 1.2;

    private FidelityAnalysis() {
    }

    /**
     * @param spec                     the conversion options
     * @param activation               the dense FFN's activation
     * @param targetCanExpressRouting  false when the output family cannot express
     *                                 {@code spec.routing()} (Mixtral with softmax-topK)
     */
    public static Fidelity assess(UpcycleSpec spec, FfnActivation activation, boolean targetCanExpressRouting) {
        Findings f = new Findings();
        List<String> warnings = new ArrayList<>();
        warn(spec, warnings);
        if (!targetCanExpressRouting) {
            f.wrong(OptionalDouble.empty(), "The target format cannot express " + spec.routing()
                    + " routing, so the written model would route differently from this plan; choose a target "
                    + "that supports it (Qwen-MoE expresses both modes through norm_topk_prob) or change --routing.",
                    "the target cannot express " + spec.routing() + " routing", otherRouting(spec));
        }
        if (spec.hasSharedExpert() && spec.sharedExpertMode() == SharedExpertMode.FULL_COPY) {
            // Full-copy shared expert (docs/method.md, "Shared experts"): the routed down projections
            // are zero, so the routed part adds nothing whatever the routing, and the shared copy (down
            // x2, gate sigmoid(0) = 1/2) is the dense FFN.
            return f.toFidelity(warnings, "The shared expert is a full copy of the dense FFN with its down "
                    + "projection doubled to undo the sigmoid(0) = 1/2 gate, and the routed experts' down "
                    + "projections are zero, so step 0 equals the dense model whatever the routing.");
        }
        assessGroups(spec, f);
        assessRouting(spec, f);
        assessScaling(spec, activation, f);
        return f.toFidelity(warnings, exactReason(spec, activation));
    }

    /**
     * The verdict of a merge (BTX or BAM) whose seeds are byte-identical. A merge copies each seed's
     * whole MLP into its experts unscaled (granularity 1, whatever {@code --scaling}), and averages
     * the other tensors in float64, where the mean of equal values is that value. So every routed
     * expert is the one dense FFN, and the MoE computes {@code sum_{i in sel} w_i * FFN(x)}: the dense
     * output times the sum of the selected weights, whichever experts the tie order selects.
     *
     * @param seeds the number of (identical) seeds
     */
    public static Fidelity assessIdenticalMerge(UpcycleSpec spec, int seeds, boolean targetCanExpressRouting) {
        if (spec.granularity() != 1 || spec.hasSharedExpert()) {
            throw new IllegalArgumentException("a merge has granularity 1 and no shared expert: " + spec.configName());
        }
        Findings f = new Findings();
        List<String> warnings = new ArrayList<>();
        warn(spec, warnings);
        if (!targetCanExpressRouting) {
            f.wrong(OptionalDouble.empty(), "The target format cannot express " + spec.routing()
                    + " routing, so the written model would route differently from this plan.",
                    "the target cannot express " + spec.routing() + " routing", otherRouting(spec));
        }
        String same = "All " + seeds + " seeds have byte-identical tensors, so the merge's " + spec.experts()
                + " experts are unscaled copies of the one dense FFN and its averaged tensors equal the seed's";
        int n = spec.experts();
        int k = spec.topK();
        if (spec.routing() == RoutingMode.SOFTMAX_TOPK && k < n) {
            double shortfall = 1 - (double) k / n;
            f.wrong(OptionalDouble.of(shortfall), String.format(Locale.ROOT, "%s. With softmax-topk routing the "
                    + "selected probabilities sum to S(x) < 1 for K=%d < N=%d (K/N = %s with the zero router), and a "
                    + "merge copies the experts unscaled, so the output is S(x) times the dense output (error up to "
                    + "1 - K/N = %s). Use --routing topk-softmax.", same, k, n, fmt((double) k / n), fmt(shortfall)),
                    "a merge copies its experts unscaled, and softmax-topk weights sum to less than 1 for K < N",
                    "--routing topk-softmax");
        }
        String exact = same + (spec.routing() == RoutingMode.TOPK_SOFTMAX
                ? "; topk-softmax weights sum to 1, so any router and any selection among tied experts reproduce "
                        + "the seed's output."
                : "; top-k equals the number of experts, so the softmax-topk probabilities of all of them sum to 1 "
                        + "and any router reproduces the seed's output.");
        return f.toFidelity(warnings, exact);
    }

    /**
     * Refuses a conversion that is not exact, for a user who asked for a function-preserving one.
     *
     * @return the (exact) fidelity
     * @throws UpcycleException ImpossibleCombination naming every reason
     */
    public static Fidelity requireExact(UpcycleSpec spec, FfnActivation activation, boolean targetCanExpressRouting) {
        Fidelity fidelity = assess(spec, activation, targetCanExpressRouting);
        if (!fidelity.isExact()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--exact",
                    spec.configName() + " with " + spec.routing() + " routing, " + spec.scaling()
                            + " scaling and " + spec.routerInit() + " router is "
                            + fidelity.verdict().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": "
                            + String.join(" ", fidelity.reasons()));
        }
        return fidelity;
    }

    /**
     * docs/method.md, "Conditions, and why": with G > 1 each top-K set must hold whole virtual groups.
     */
    private static void assessGroups(UpcycleSpec spec, Findings f) {
        int g = spec.granularity();
        if (g == 1) {
            return;
        }
        if (!spec.selectsWholeGroups()) {
            f.wrong(OptionalDouble.of(CUT_GROUP_ERROR), String.format(Locale.ROOT,
                    "Top-k K=%d is not a multiple of granularity G=%d, so every token's top-K set cuts a "
                            + "virtual group: some of the dense FFN's shards are counted twice and others not at "
                            + "all, and no scaling repairs that (measured error up to %.0f%%). Choose K as a "
                            + "multiple of %d.", spec.topK(), g, CUT_GROUP_ERROR * 100, g),
                    "top-k K=" + spec.topK() + " is not a multiple of granularity G=" + g,
                    "--top-k " + Math.min(spec.experts(), (spec.topK() + g - 1) / g * g));
        }
        if (spec.routerInit() == RouterInit.RANDOM) {
            f.wrong(OptionalDouble.of(INDEPENDENT_ROWS_ERROR), String.format(Locale.ROOT,
                    "The random router gives the G=%d shards of one dense copy independent logits, so a top-K "
                            + "set usually holds some shards twice and others not at all (measured error about "
                            + "%.0f%%). Use --router-init virtual-group%s.", g, INDEPENDENT_ROWS_ERROR * 100,
                    spec.routing() == RoutingMode.TOPK_SOFTMAX ? "" : " (with --routing topk-softmax for an exact start)"),
                    "the random router gives the G=" + g + " shards of one dense copy independent logits",
                    "--router-init virtual-group");
        }
        // A virtual-group router needs no tie order: its G experts of one group tie with each other,
        // but distinct groups get distinct random rows, so (with probability 1) no two groups tie and,
        // with K mod G = 0, the top-K boundary falls between groups whatever order breaks the ties
        // inside one. The zero router ties all N experts, so the top-K's tie order alone picks the set.
        if (spec.routerInit() == RouterInit.ZERO && spec.selectsWholeGroups() && spec.topK() < spec.experts()) {
            f.wrong(OptionalDouble.of(CUT_GROUP_ERROR), String.format(Locale.ROOT,
                    "The zero router gives all N=%d experts the same logit, so which K=%d of them a token uses is "
                            + "decided by the top-K's tie order, which PyTorch's topk (used by the runtime, "
                            + "transformers and vLLM) does not fix. A set that holds whole virtual groups reproduces "
                            + "the dense output, but one that holds part of a group counts some of the dense FFN's "
                            + "shards twice and others not at all (the cut-group error, up to %.0f%%), so step 0 "
                            + "is not guaranteed. Use --router-init virtual-group with --routing topk-softmax and "
                            + "an exact scaling mode, or --granularity 1.",
                    spec.experts(), spec.topK(), CUT_GROUP_ERROR * 100),
                    "the zero router leaves the top-K set to tie order, which can cut a virtual group",
                    "--router-init virtual-group", "--routing topk-softmax");
        }
    }

    /**
     * docs/method.md, "Conditions, and why": softmax-topK is exact only when all logits are equal. That
     * is the zero router, whose selection is left to tie order: {@link #assessGroups} covers it for G >
     * 1, and with G = 1 every expert is the same function, so any K of them give the same output.
     */
    private static void assessRouting(UpcycleSpec spec, Findings f) {
        // With K = N every expert is selected and S(x) = 1 = K/N for any router (the
        // exception noted in docs/method.md, "Conditions, and why").
        if (spec.routing() != RoutingMode.SOFTMAX_TOPK || spec.routerInit() == RouterInit.ZERO
                || spec.topK() == spec.experts()) {
            return;
        }
        String fix = spec.granularity() == 1 ? "Use --router-init zero for an exact start."
                : "With G > 1 no router makes softmax-topk exact for K < N (the zero router leaves the selection "
                        + "to tie order); use --routing topk-softmax with the virtual-group router for an exact start.";
        String upTo = fmt((double) spec.experts() / spec.topK());
        f.approximate(OptionalDouble.empty(), String.format(Locale.ROOT,
                "With softmax-topk routing and a non-zero router, the selected probabilities sum to S(x) >= K/N, "
                        + "so every token's output is multiplied by N*S(x)/K, which lies between 1 (all logits "
                        + "equal) and N/K = %s (N=%d, K=%d). Where it falls depends on the logit spread "
                        + "sigma_l ~ sigma*||x|| (sigma=%s here; ||x|| is of order sqrt(d) times the norm weight), "
                        + "that is on the model and the data: verify --against measures it, and docs/method.md, "
                        + "\"Exactness\" lists measured excesses. %s",
                upTo, spec.experts(), spec.topK(), fmt(spec.routerStd()), fix),
                "softmax-topk with a non-zero router multiplies each token's output by N*S(x)/K, between 1 and "
                        + "N/K = " + upTo, "--routing topk-softmax");
    }

    /**
     * docs/method.md, "Scaling modes": only the exact modes, or paper on homogeneous activations, carry
     * s exactly.
     */
    private static void assessScaling(UpcycleSpec spec, FfnActivation activation, Findings f) {
        double s = Scaling.outputScale(spec);
        switch (spec.scaling()) {
            case NONE -> {
                if (s != 1.0) {
                    f.wrong(OptionalDouble.of(Math.abs(1 - 1 / s)), String.format(Locale.ROOT,
                            "Without scaling the MoE output is 1/s of the dense output (s=%s for %s routing "
                                    + "with N=%d, K=%d, G=%d). Use --scaling exact-balanced or exact-down.",
                            fmt(s), spec.routing(), spec.experts(), spec.topK(), spec.granularity()),
                            "without scaling the output is 1/s of the dense output (s=" + fmt(s) + ")",
                            "--scaling exact-balanced");
                }
            }
            case PAPER -> {
                if (s != 1.0 && !activation.isPositivelyHomogeneous()) {
                    String root = activation.isGated() ? "s^(1/3)" : "s^(1/2)";
                    double c = activation.isGated() ? StrictMath.cbrt(s) : StrictMath.sqrt(s);
                    String name = activation == FfnActivation.SILU_GLU ? "SiLU" : "GELU";
                    // Measured only on random layers with s <= 4; beyond that no figure is honest.
                    boolean measured = s <= MEASURED_MAX_S;
                    f.approximate(measured ? OptionalDouble.of(paperError(activation)) : OptionalDouble.empty(),
                            String.format(Locale.ROOT,
                            "Paper scaling puts %s = %s inside %s, which is not homogeneous: %s(c*z)/(c*%s(z)) is "
                                    + "not 1, so a neuron whose pre-activation z is +1 or -1 changes its output by "
                                    + "%s or %s (c = %s for s=%s). How much the layer's output changes depends on "
                                    + "how the pre-activations are spread, that is on the model and the data%s. "
                                    + "Use --scaling exact-balanced (or exact-down) for an exact start.",
                            root, fmt(c), name, name, name, percent(neuronChange(activation, c, 1)),
                            percent(neuronChange(activation, c, -1)), fmt(c), fmt(s),
                            measured ? String.format(Locale.ROOT, " (random layers with s <= %s: up to %s relative "
                                    + "error)", fmt(MEASURED_MAX_S), fmt(paperError(activation)))
                                    : "; verify --against measures it"),
                            "paper scaling puts " + root + " = " + fmt(c) + " inside " + name + ", which is not "
                                    + "homogeneous", "--scaling exact-balanced");
                }
            }
            case EXACT_DOWN, EXACT_BALANCED -> {
            }
            default -> throw new IllegalStateException(spec.scaling().toString());
        }
    }

    /**
     * The relative change of one neuron's activation when the factor {@code c} moves inside it:
     * {@code act(c*z) / (c*act(z)) - 1}.
     */
    static double neuronChange(FfnActivation a, double c, double z) {
        return switch (a) {
            case SILU_GLU -> sigmoid(c * z) / sigmoid(z) - 1;
            case GELU_GLU, GELU -> phi(c * z) / phi(z) - 1;
            case SQUARED_RELU, RELU -> 0.0;
        };
    }

    private static double sigmoid(double x) {
        return 1 / (1 + StrictMath.exp(-x));
    }

    /** The normal CDF in GELU's tanh form (the form the families use). */
    private static double phi(double x) {
        return 0.5 * (1 + StrictMath.tanh(StrictMath.sqrt(2 / StrictMath.PI) * (x + 0.044715 * x * x * x)));
    }

    private static String percent(double v) {
        return String.format(Locale.ROOT, "%+.0f%%", v * 100);
    }

    private static String otherRouting(UpcycleSpec spec) {
        return "--routing " + (spec.routing() == RoutingMode.SOFTMAX_TOPK ? RoutingMode.TOPK_SOFTMAX
                : RoutingMode.SOFTMAX_TOPK);
    }

    private static double paperError(FfnActivation a) {
        return switch (a) {
            case SILU_GLU -> PAPER_SWIGLU_ERROR;
            case GELU_GLU -> PAPER_GEGLU_ERROR;
            case GELU -> PAPER_GELU_ERROR;
            case SQUARED_RELU, RELU -> 0.0;
        };
    }

    private static void warn(UpcycleSpec spec, List<String> warnings) {
        if (spec.topK() == 1 && spec.routing() == RoutingMode.TOPK_SOFTMAX) {
            warnings.add("With top-k 1 and topk-softmax routing every selected expert gets weight exactly 1, "
                    + "so the router receives no gradient from the language-model loss (noted in the paper); "
                    + "use top-k >= 2 or softmax-topk routing.");
        }
        if (spec.routerInit() == RouterInit.ZERO && spec.experts() > 1) {
            warnings.add("The zero router makes all logits tie, so at step 0 the top-K's tie order decides which "
                    + "experts every token uses (PyTorch, transformers and vLLM do not fix that order); training "
                    + "breaks the tie after the first update.");
        }
        if (spec.hasSharedExpert() && spec.sharedExpertMode() == SharedExpertMode.FULL_COPY) {
            warnings.add("With --shared-expert-mode full-copy the routed experts' down projections start at "
                    + "zero, so their gate and up projections and the router get no gradient until the down "
                    + "projections move away from zero.");
        }
    }

    private static String exactReason(UpcycleSpec spec, FfnActivation activation) {
        StringBuilder b = new StringBuilder();
        // No reason here may depend on the top-K's tie order: each names why every possible selection
        // gives the same output (G = 1: identical experts; K = N: all of them; virtual-group router:
        // no tie at the top-K boundary).
        if (spec.routing() == RoutingMode.TOPK_SOFTMAX) {
            b.append(spec.granularity() == 1
                    ? "With granularity 1 every expert is a full copy of the dense FFN and topk-softmax weights sum "
                            + "to 1, so any router, and any selection among tied experts, reproduces the dense output."
                    : spec.topK() == spec.experts()
                    ? "Top-k equals the number of experts, so every expert is selected; the " + spec.routerInit()
                            + " router gives the G=" + spec.granularity() + " shards of each dense copy equal "
                            + "weights, and the MoE computes the dense output divided by G."
                    : "The " + spec.routerInit() + " router gives the G=" + spec.granularity() + " shards of each "
                            + "dense copy equal logits and distinct copies distinct ones, and K=" + spec.topK()
                            + " is a multiple of G, so the top-K boundary falls between copies whatever the tie "
                            + "order, every top-K set holds whole copies and the MoE computes the dense output "
                            + "divided by G.");
        } else if (spec.topK() == spec.experts()) {
            b.append("Top-k equals the number of experts, so softmax-topk selects every expert with probabilities "
                    + "summing to 1 and the MoE computes the dense output divided by G for any router.");
        } else {
            // Reached only with G = 1: assessGroups rates the zero router with G > 1 and K < N.
            b.append("The zero router makes every probability 1/N and with granularity 1 every expert is a full "
                    + "copy of the dense FFN, so whichever K experts the top-K's tie order selects, they compute "
                    + "the dense output times K/N.");
        }
        double s = Scaling.outputScale(spec);
        if (s != 1.0) {
            b.append(" The ").append(spec.scaling()).append(" scaling multiplies the experts by s=").append(fmt(s))
                    .append(spec.scaling() == ScalingMode.PAPER
                            ? ", and " + activation + " is positively homogeneous, so the factors pass through it."
                            : " outside the activation.");
        }
        if (spec.hasSharedExpert()) {
            b.append(" The shared expert's neurons are removed from the routed experts and its down projection "
                    + "is doubled to undo the sigmoid(0) = 1/2 gate.");
        }
        b.append(" Step 0 reproduces the dense model up to rounding.");
        return b.toString();
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
                : String.format(Locale.ROOT, "%.3g", v);
    }

    /**
     * The worst verdict seen so far, its reasons, its main reason (the first finding of the worst
     * verdict), the options that repair every finding, and the largest known error.
     */
    private static final class Findings {
        private Fidelity.Verdict verdict = Fidelity.Verdict.EXACT;
        private final List<String> reasons = new ArrayList<>();
        private final java.util.Set<String> fixes = new java.util.LinkedHashSet<>();
        private String mainReason;
        private double error;
        private boolean errorKnown = true;

        void approximate(OptionalDouble expected, String reason, String shortReason, String... fix) {
            add(Fidelity.Verdict.APPROXIMATE, expected, reason, shortReason, fix);
        }

        void wrong(OptionalDouble expected, String reason, String shortReason, String... fix) {
            add(Fidelity.Verdict.NOT_PRESERVING, expected, reason, shortReason, fix);
        }

        private void add(Fidelity.Verdict v, OptionalDouble expected, String reason, String shortReason,
                         String... fix) {
            if (v.compareTo(verdict) > 0) {
                // The expected error and the main reason are those of the worst findings only.
                verdict = v;
                error = 0;
                errorKnown = true;
                mainReason = shortReason;
            }
            fixes.addAll(List.of(fix));
            reasons.add(reason);
            if (v.compareTo(verdict) < 0) {
                return;
            }
            if (expected.isPresent()) {
                error = Math.max(error, expected.getAsDouble());
            } else {
                errorKnown = false;
            }
        }

        Fidelity toFidelity(List<String> warnings, String exactReason) {
            if (verdict == Fidelity.Verdict.EXACT) {
                return new Fidelity(verdict, List.of(exactReason), warnings, OptionalDouble.of(0.0), "exact", List.of());
            }
            return new Fidelity(verdict, reasons, warnings, errorKnown ? OptionalDouble.of(error) : OptionalDouble.empty(),
                    mainReason, List.copyOf(fixes));
        }
    }
}
