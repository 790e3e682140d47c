package dev.upcycle.moe;

import dev.upcycle.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The step-0 verdict of a whole conversion: {@link FidelityAnalysis}'s verdict on the options, made
 * worse by what the conversion adds around them (a target that cannot hold the source, a router that
 * rounds to zero, a forced block layout, merged seeds, expert noise). The planner collects the facts;
 * this is the one place that turns them into a verdict.
 */
public final class ConversionFidelity {

    /**
     * What the verdict depends on besides the options.
     *
     * @param spec                    the conversion options
     * @param activation              the dense FFN's activation
     * @param targetExpressesRouting  whether the output family can express {@code spec.routing()}
     * @param cannotReproduce         why the target cannot reproduce the source (its attention, norms or
     *                                tensors it has no place for); empty when it can
     * @param routerDtype             the dtype the router is written in, or null when there is none
     * @param routerZeroBelow         a router value below this rounds to zero in {@code routerDtype}
     * @param seeds                   the number of seeds (1: plain upcycling)
     * @param identicalSeeds          several seeds whose tensors are byte-identical
     * @param seed                    the first seed's config
     * @param blocks                  the output's block layout, resolved against the seed
     * @param moa                     attention experts, or null
     * @param expertNoiseStd          noise added to every copied expert weight (0: none)
     * @param named                   experts named one by one (a mergekit-moe configuration), or null
     */
    public record Facts(UpcycleSpec spec, FfnActivation activation, boolean targetExpressesRouting,
                        List<String> cannotReproduce, String routerDtype, double routerZeroBelow, int seeds,
                        boolean identicalSeeds, ModelConfig seed, BlockSpec.Resolved blocks, MoaSpec moa,
                        double expertNoiseStd, NamedExperts named) {
        public Facts {
            cannotReproduce = List.copyOf(cannotReproduce);
        }

        /** One seed, or several byte-identical ones: every expert copies the same dense function. */
        boolean oneFunction() {
            return seeds == 1 || identicalSeeds;
        }
    }

    /**
     * What decides the verdict of experts named one by one (docs/mergekit.md): the base model gives
     * everything but the experts, so step 0 is the base model only when every expert is the base's
     * MLP unchanged and the router's weights on them sum to 1.
     *
     * @param otherModels    whether some routed expert reads another model than the base (whose bytes differ)
     * @param residualScaled whether some routed expert's down projection is scaled
     * @param noiseStd       the largest noise added to an expert's weights (0: none)
     * @param sharedExpert   whether a shared expert is added on top of the routed ones
     */
    public record NamedExperts(boolean otherModels, boolean residualScaled, double noiseStd, boolean sharedExpert) {
    }

    private ConversionFidelity() {
    }

    public static Fidelity assess(Facts facts) {
        if (facts.named() != null) {
            return named(facts);
        }
        UpcycleSpec spec = facts.spec();
        Fidelity math = facts.identicalSeeds()
                ? FidelityAnalysis.assessIdenticalMerge(spec, facts.seeds(), facts.targetExpressesRouting())
                : routerRoundedToZero(facts, FidelityAnalysis.assess(spec, facts.activation(),
                facts.targetExpressesRouting()));
        Fidelity fidelity = math;
        if (!facts.cannotReproduce().isEmpty()) {
            List<String> reasons = new ArrayList<>(facts.cannotReproduce().stream()
                    .map(r -> "The target cannot reproduce the source: " + r + ".").toList());
            if (!math.isExact()) {
                reasons.addAll(math.reasons());
            }
            fidelity = new Fidelity(Fidelity.Verdict.NOT_PRESERVING, reasons, math.warnings(), OptionalDouble.empty(),
                    "the target format cannot reproduce the source's attention, norms or tensors", List.of());
        }
        return withAttentionAndSeeds(facts, fidelity);
    }

    /**
     * Experts named one by one: with every expert the base model's MLP, the router's weights decide
     * the step-0 function exactly as for copies ({@link FidelityAnalysis}, whatever the rows); each
     * departure from that makes the verdict worse and says why.
     */
    private static Fidelity named(Facts facts) {
        NamedExperts n = facts.named();
        Fidelity math = FidelityAnalysis.assess(facts.spec(), facts.activation(), facts.targetExpressesRouting());
        if (!facts.cannotReproduce().isEmpty()) {
            return new Fidelity(Fidelity.Verdict.NOT_PRESERVING, facts.cannotReproduce().stream()
                    .map(r -> "The target cannot reproduce the source: " + r + ".").toList(), math.warnings(),
                    OptionalDouble.empty(), "the target format cannot reproduce the source's attention, norms or "
                    + "tensors", List.of());
        }
        List<String> reasons = new ArrayList<>();
        if (n.otherModels() && !facts.identicalSeeds()) {
            reasons.add("Experts come from different models than the base model, so the result is a new model: "
                    + "not a function-preserving upcycle, and step 0 matches none of the sources.");
        }
        if (n.residualScaled()) {
            reasons.add("residual_scale multiplies experts' down projections, so the MoE output is scaled.");
        }
        if (n.sharedExpert()) {
            reasons.add("The shared expert's output, weighted by sigmoid(its gate row . x), is added to the routed "
                    + "experts' output, which alone already gives the MLP's.");
        }
        if (!reasons.isEmpty()) {
            return new Fidelity(Fidelity.Verdict.NOT_PRESERVING, reasons, math.warnings(), OptionalDouble.empty(),
                    n.otherModels() && !facts.identicalSeeds()
                            ? "its experts come from other models than the base model, so the result is a new model"
                            : reasons.get(0).substring(0, reasons.get(0).length() - 1), List.of());
        }
        if (n.noiseStd() > 0) {
            return new Fidelity(math.verdict() == Fidelity.Verdict.NOT_PRESERVING ? math.verdict()
                    : Fidelity.Verdict.APPROXIMATE, List.of(String.format(Locale.ROOT, "noise_scale: N(0, %s^2) is "
                    + "added to expert weights, so step 0 differs from the base model by an amount that grows with "
                    + "the noise.", fmt(n.noiseStd()))), math.warnings(), OptionalDouble.empty(),
                    "noise_scale makes the experts differ from the base model's MLP", List.of("noise_scale 0"));
        }
        MoaSpec moa = facts.moa();
        if (moa == null) {
            return math;
        }
        // Every attention expert copies its expert's model, here the base model (any other is refused above).
        List<String> withAttention = new ArrayList<>(math.reasons());
        withAttention.add(String.format(Locale.ROOT, "Attention: %d copies of the base model's attention per layer "
                + "(%s), %s; weights g_e >= 0 summing to 1 give sum_e g_e A(h) = A(h), so the attention is "
                + "unchanged for any router.", moa.experts(), moa.variant().token(),
                moa.topK() == null ? "soft routing over all experts" : "top-" + moa.topK() + " renormalised"));
        return new Fidelity(math.verdict(), withAttention, math.warnings(), math.expectedRelativeError(),
                math.mainReason(), math.exactWith());
    }

    /**
     * A random router so narrow that every draw rounds to zero in its dtype is the zero router,
     * and its selection is left to the top-K's tie order. Only ever makes the verdict worse: a
     * draw beyond 8 sigma (probability ~1e-15 each) would not round to zero.
     */
    private static Fidelity routerRoundedToZero(Facts facts, Fidelity math) {
        UpcycleSpec spec = facts.spec();
        if (spec.routerInit() == RouterInit.ZERO) {
            return math;
        }
        if (facts.routerDtype() == null || 8 * spec.routerStd() >= facts.routerZeroBelow()) {
            return math;
        }
        Fidelity zero = FidelityAnalysis.assess(spec.toBuilder().routerInit(RouterInit.ZERO).build(),
                facts.activation(), facts.targetExpressesRouting());
        if (zero.verdict().compareTo(math.verdict()) <= 0) {
            return math;
        }
        List<String> reasons = new ArrayList<>();
        reasons.add("--router-std " + fmt(spec.routerStd()) + " is so small that every router weight "
                + "rounds to zero in " + facts.routerDtype() + ", so the " + spec.routerInit()
                + " router is the zero router.");
        reasons.addAll(zero.reasons());
        List<String> fixes = new ArrayList<>(List.of("a larger --router-std"));
        fixes.addAll(zero.exactWith());
        return new Fidelity(zero.verdict(), reasons, zero.warnings(), zero.expectedRelativeError(),
                "--router-std " + fmt(spec.routerStd()) + " rounds every router weight to zero in "
                        + facts.routerDtype() + ", and " + zero.mainReason(), fixes);
    }

    /**
     * Identical attention experts preserve the function, merged seeds do not
     * (docs/attention-experts.md, "One seed: copies, and why the router then learns nothing" and
     * "Several seeds: BTX and BAM merges"), unless they are byte-identical: then every expert is
     * the same function, as with one seed.
     */
    private static Fidelity withAttentionAndSeeds(Facts facts, Fidelity f) {
        MoaSpec moa = facts.moa();
        BlockSpec.Resolved blocks = facts.blocks();
        List<String> reasons = new ArrayList<>(f.reasons());
        List<String> warns = new ArrayList<>(f.warnings());
        if (blocks.changed()) {
            return new Fidelity(Fidelity.Verdict.NOT_PRESERVING, List.of("Block layout: the seed's "
                    + facts.seed().blockLayout().token() + " blocks are written as " + blocks.layout().token()
                    + " blocks (--force-parallel); the FFN now reads a different input, so step 0 does not "
                    + "match the seed."), warns, OptionalDouble.empty(),
                    "--force-parallel writes the seed's blocks in another layout", List.of("--block-layout seed"));
        }
        if (moa != null) {
            reasons.add(String.format(Locale.ROOT, "Attention: %d identical copies of the attention per MoA layer "
                    + "(%s), %s; weights g_e >= 0 summing to 1 give sum_e g_e A(h) = A(h), so the attention is "
                    + "unchanged for any router.", moa.experts(), moa.variant().token(),
                    moa.topK() == null ? "soft routing over all experts" : "top-" + moa.topK() + " renormalised"));
            if (facts.oneFunction() && moa.routerInit() == RouterInit.ZERO && facts.expertNoiseStd() == 0) {
                warns.add("attention router init zero with " + (facts.seeds() == 1 ? "one seed" : "identical seeds")
                        + " and no expert noise: identical experts get "
                        + "identical updates and never diverge; use --attention-router-init random "
                        + "or --expert-noise-std");
            }
        }
        double noise = facts.expertNoiseStd();
        if (noise > 0 && facts.oneFunction()) {
            reasons = new ArrayList<>(List.of(String.format(Locale.ROOT, "Expert noise: N(0, %s^2) is added to "
                    + "every copied expert weight (--expert-noise-std), so the experts are no longer identical "
                    + "and step 0 differs from the dense model by an amount that grows with the noise.",
                    fmt(noise))));
            boolean worse = f.verdict() == Fidelity.Verdict.NOT_PRESERVING;
            List<String> fixes = new ArrayList<>(f.exactWith());
            fixes.add("--expert-noise-std 0");
            return new Fidelity(worse ? f.verdict() : Fidelity.Verdict.APPROXIMATE, reasons, warns,
                    OptionalDouble.empty(), worse ? f.mainReason() : "--expert-noise-std makes the copied experts "
                    + "differ", fixes);
        }
        if (!facts.oneFunction()) {
            reasons = new ArrayList<>(List.of("Merging " + facts.seeds() + " seeds (" + (moa == null ? "BTX" : "BAM "
                    + moa.variant().token()) + "): experts come from different models and the other tensors are "
                    + "their mean, so the result matches no seed."));
            return new Fidelity(Fidelity.Verdict.NOT_PRESERVING, reasons, warns, OptionalDouble.empty(),
                    "a merge of different seeds matches no seed, by design", List.of());
        }
        return new Fidelity(f.verdict(), reasons, warns, f.expectedRelativeError(), f.mainReason(), f.exactWith());
    }

    /** As the plan prints numbers: integers plainly, others to 6 significant digits. */
    private static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", v)).stripTrailingZeros().toPlainString();
    }
}
