package dev.upcycle.plan;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import dev.upcycle.moe.ConversionFidelity;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTarget;
import dev.upcycle.plan.target.MoeTargets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The pure function {@code (dense config, dense tensor headers, request) -> UpcyclePlan}
 * (the plan is a value: docs/design.md, "Data flow"), in three steps: normalise the request against
 * the seeds ({@link RequestNormaliser}), choose the target, and map every target tensor to its source
 * by role ({@link TensorMapper}). Every impossible combination is refused here, before anything is
 * written, with {@code ImpossibleCombination} (exit 3) naming the reason.
 */
public final class Planner {
    private final FamilyRegistry registry;

    public Planner(FamilyRegistry registry) {
        this.registry = Objects.requireNonNull(registry);
    }

    /**
     * The seeds' configs checked as planning checks them, before any tensor is read: convert
     * --config does it before it runs prompts through the base model, which may take minutes.
     *
     * @throws UpcycleException ImpossibleCombination naming the seed and the field
     */
    public static void requireSameArchitecture(List<ModelConfig> configs) {
        SeedCheck.requireSameConfig(configs);
    }

    /**
     * @param source  the dense model's validated config
     * @param tensors the dense model's tensor headers by name (validated against the config)
     * @throws UpcycleException ImpossibleCombination, UnsupportedArchitecture, InvalidConfig
     */
    public UpcyclePlan plan(ModelConfig source, Map<String, TensorHeader> tensors, UpcycleRequest request) {
        return plan(List.of(source), List.of(tensors), request);
    }

    /**
     * Several seeds (docs/attention-experts.md, "Several seeds: BTX and BAM merges"): BTX (FFN experts
     * from the seeds, the rest averaged) or, with attention experts, BAM. One seed is plain upcycling.
     * Seeds must share their architecture.
     *
     * @param sources the seeds' configs, in expert order
     * @param tensors their tensor headers, in the same order
     */
    public UpcyclePlan plan(List<ModelConfig> sources, List<Map<String, TensorHeader>> tensors,
                            UpcycleRequest request) {
        return plan(sources, tensors, request, false);
    }

    /**
     * As {@link #plan(List, List, UpcycleRequest)}, told whether the seeds' tensors are
     * byte-identical (the caller compares the bytes; headers cannot tell). A merge of identical
     * seeds is one dense function copied into every expert, and gets that verdict instead of
     * "matches no seed"; the planned tensors are the same either way.
     */
    public UpcyclePlan plan(List<ModelConfig> sources, List<Map<String, TensorHeader>> tensors,
                            UpcycleRequest request, boolean identicalSeeds) {
        NormalisedRequest in = RequestNormaliser.normalise(sources, tensors, request, identicalSeeds);
        if (!RequestNormaliser.isAuto(in.request())) {
            Candidate named = candidate(MoeTargets.byName(in.request().target()), in);
            return finish(in, named, in.request().sources() != null
                    ? PlanExplainer.chosenAsMergekit(named.target()) : PlanExplainer.chosenByName(named.target()));
        }
        List<Candidate> candidates = MoeTargets.forSource(in.source().family()).stream()
                .map(t -> candidate(t, in)).toList();
        boolean allowApproximate = in.request().allowApproximate();
        Candidate chosen = candidates.stream().filter(Candidate::exactFit).findFirst()
                .or(() -> allowApproximate ? candidates.stream().filter(Candidate::possible).findFirst()
                        : Optional.empty())
                .orElseThrow(() -> new UpcycleException(ErrorKind.ImpossibleCombination, "--target auto",
                        "no target can express this " + in.source().family().name() + " model with these options: "
                                + candidates.stream().map(c -> c.target().cliName() + ": "
                                + String.join("; ", c.problems())).collect(Collectors.joining(" | ")),
                        allowApproximate ? null
                                : "--allow-approximate accepts a target whose attention or norms differ from the source"));
        Map<MoeTarget, List<String>> rejected = new LinkedHashMap<>();
        candidates.stream().takeWhile(c -> c != chosen).forEach(c -> rejected.put(c.target(), c.problems()));
        return finish(in, chosen, PlanExplainer.chosenAutomatically(chosen.target(), in.spec(), rejected));
    }

    /**
     * One target tried: why it cannot take the request at all, or else why it cannot reproduce the
     * source, its config and its mapped tensors.
     */
    private record Candidate(MoeTarget target, List<String> impossible, List<String> approximations,
                             ModelConfig config, List<PlannedTensor> tensors) {
        boolean possible() {
            return impossible.isEmpty();
        }

        boolean exactFit() {
            return possible() && approximations.isEmpty();
        }

        List<String> problems() {
            return possible() ? approximations : impossible;
        }
    }

    private Candidate candidate(MoeTarget target, NormalisedRequest in) {
        ModelConfig source = in.source();
        List<String> impossible = new ArrayList<>();
        if (in.blocks().parallel() && !target.attentionExperts()) {
            impossible.add(target.cliName() + " has sequential blocks only, and the output's blocks are parallel; "
                    + "use --target native");
        }
        impossible.addAll(target.impossible(source, in.spec(), in.layers()));
        if (!impossible.isEmpty()) {
            return new Candidate(target, impossible, List.of(), null, null);
        }
        List<String> approximations = new ArrayList<>(target.approximations(source));
        var family = registry.byName(target.familyName());
        ModelConfig config = target.config(source, family, in.spec(), in.layout(), in.layers(),
                in.request().routerAuxLossCoef(), in.request().moa(), in.blocks());
        if (in.request().sources() != null && in.request().dtype() != null) {
            // mergekit declares the dtype it writes (docs/mergekit.md)
            config = config.toBuilder().dtype(in.request().dtype()).build();
        }
        TensorMapper.Mapping mapping = new TensorMapper(in, target, config).map(family);
        approximations.addAll(mapping.dropped());
        return new Candidate(target, impossible, approximations, config, mapping.tensors());
    }

    /** Refuses a target that cannot take the request, or cannot reproduce the source without leave. */
    private static void refuseIfUnfit(Candidate c, NormalisedRequest in) {
        String where = "--target " + c.target().cliName();
        if (!c.possible()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, where, String.join("; ", c.impossible()));
        }
        if (!c.approximations().isEmpty() && !in.request().allowApproximate()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, where, "cannot reproduce the "
                    + in.source().family().name() + " source: " + String.join("; ", c.approximations()),
                    "pass --allow-approximate to convert anyway (step 0 will not match the dense model)");
        }
    }

    private static UpcyclePlan finish(NormalisedRequest in, Candidate c, String targetChoice) {
        refuseIfUnfit(c, in);
        UpcycleRequest request = in.request();
        PlanSizes sizes = PlanSizes.of(c.tensors(), c.config(), request.maxShardSize());
        Fidelity fidelity = ConversionFidelity.assess(facts(in, c));
        List<String> choices = new ArrayList<>();
        choices.add(targetChoice);
        choices.addAll(PlanExplainer.choices(in, c.target(), c.config()));
        List<String> warnings = PlanExplainer.warnings(in, c.config(), sizes.tensors(), c.approximations().isEmpty());
        return new UpcyclePlan(request, in.source(), c.target(), c.config(), in.layout(), in.factors(),
                in.activation(), in.layers(), sizes.tensors(), sizes.shards(), sizes.total(), sizes.active(),
                sizes.bytes(), fidelity, choices, warnings);
    }

    /** What the verdict depends on, as the plan found it. */
    private static ConversionFidelity.Facts facts(NormalisedRequest in, Candidate c) {
        UpcycleSpec spec = in.spec();
        DType router = c.tensors().stream().filter(t -> t.role() == TensorRole.ROUTER).map(PlannedTensor::dtype)
                .findFirst().orElse(null);
        // Draws are stored as float32 before the output dtype: below half the smallest subnormal
        // of either, a value rounds (to nearest even) to zero.
        double zeroBelow = router == DType.F16 ? 0x1p-25 : router == DType.BF16 ? 0x1p-134 : 0x1p-150;
        return new ConversionFidelity.Facts(spec, in.activation(), c.target().expresses(spec.routing()),
                c.approximations(), router == null ? null : router.toString(), zeroBelow, in.seeds(),
                in.identicalSeeds(), in.source(), in.blocks(), in.request().moa(), in.request().expertNoiseStd(),
                named(in.request().sources()));
    }

    private static ConversionFidelity.NamedExperts named(ExpertSources s) {
        if (s == null) {
            return null;
        }
        return new ConversionFidelity.NamedExperts(s.expertsFromOtherModels(),
                s.experts().stream().anyMatch(m -> m.residualScale() != 1.0),
                s.members().stream().mapToDouble(ExpertSources.Member::noiseStd).max().orElse(0),
                s.shared() != null);
    }
}
