package dev.upcycle.plan;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.ShardPlan;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.Family;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorId;
import dev.upcycle.model.TensorRole;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.FfnActivation;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.moe.FidelityAnalysis;
import dev.upcycle.moe.IndexRange;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.ScaleFactors;
import dev.upcycle.moe.Scaling;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTarget;
import dev.upcycle.plan.target.MoeTargets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The pure function {@code (dense config, dense tensor headers, request) -> UpcyclePlan}
 * (the plan is a value: docs/design.md, "Data flow"). Every impossible combination is refused here,
 * before anything is written, with {@code ImpossibleCombination} (exit 3) naming the reason.
 */
public final class Planner {
    private static final String INV_FREQ = ".rotary_emb.inv_freq";

    private final FamilyRegistry registry;

    public Planner(FamilyRegistry registry) {
        this.registry = Objects.requireNonNull(registry);
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
        if (sources.isEmpty() || sources.size() != tensors.size()) {
            throw new IllegalArgumentException(sources.size() + " configs, " + tensors.size() + " tensor maps");
        }
        SeedCheck.requireSameArchitecture(sources, tensors);
        ModelConfig source = sources.get(0);
        int seeds = sources.size();
        if (seeds > 1) {
            UpcycleSpec s = request.spec();
            if (s.granularity() != 1 || s.experts() % seeds != 0 || s.hasSharedExpert()) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "convert (" + seeds + " seeds)",
                        "a merge makes whole FFN experts, the same number from each seed: --experts must be a "
                                + "multiple of " + seeds + " (found " + s.experts() + "), --granularity 1 (found "
                                + s.granularity() + "), no shared expert");
            }
            if (request.moa() != null && request.moa().experts() % seeds != 0) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--attention-experts",
                        request.moa().experts() + " attention experts cannot come equally from " + seeds + " seeds");
            }
        }
        if (request.moa() != null) {
            String t = request.target().strip();
            if (!t.equalsIgnoreCase(MoeTargets.AUTO) && !MoeTargets.byName(t).attentionExperts()) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--target " + t,
                        "attention experts need --target native (or auto)");
            }
            request = request.withTarget(MoeTargets.NATIVE.cliName());
        }
        if (hasExpertLayers(source)) {
            throw new UpcycleException(ErrorKind.UnsupportedArchitecture, "config.json", "the input is already an MoE model ("
                    + source.family().name() + "); convert upcycles dense llama, mistral, qwen2 and qwen3 models "
                    + "(and dense native models, e.g. parallel-block seeds)");
        }
        BlockSpec.Resolved blocks = request.block().resolve(source);
        if (blocks.parallel() && request.target().strip().equalsIgnoreCase(MoeTargets.AUTO)) {
            // Only the native format has parallel blocks (docs/attention-experts.md, "Block layouts").
            request = request.withTarget(MoeTargets.NATIVE.cliName());
        }
        if (request.moa() != null && request.moa().sharedKvSeed() != null && request.moa().sharedKvSeed() >= seeds) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--shared-kv-init",
                    "seed:" + request.moa().sharedKvSeed() + " names no input (" + seeds + " given, numbered from 0)");
        }
        if (source.mlpBias()) {
            // docs/method.md, "Biases": no target has expert biases, and dropping them changes the
            // function.
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "config.json mlp_bias",
                    "the source has MLP biases, but no target format (mixtral, qwen2-moe, qwen3-moe) has expert biases");
        }
        FfnActivation activation = FfnActivation.fromHiddenAct(source.hiddenAct(), true);
        ExpertLayout layout = ExpertLayout.of(request.spec(), source.intermediateSize());
        List<Integer> layers = request.layers().resolve(source.numHiddenLayers());
        return planFirst(new Inputs(source, tensors, blocks, seeds > 1 && identicalSeeds), request, activation,
                layout, layers);
    }

    /** A dense input has no routed-expert and no attention-expert layer (a native config may have neither). */
    private static boolean hasExpertLayers(ModelConfig c) {
        return !c.sparseLayers().isEmpty() || !c.moaLayers().isEmpty();
    }

    /**
     * What one {@link #plan} call reads: the first seed's config, every seed's headers, and the
     * block layout resolved against the seed. Passed down, not stored, so a planner is stateless.
     */
    private record Inputs(ModelConfig source, List<Map<String, TensorHeader>> seedTensors, BlockSpec.Resolved blocks,
                          boolean identicalSeeds) {
        Map<String, TensorHeader> first() {
            return seedTensors.get(0);
        }
    }

    private UpcyclePlan planFirst(Inputs in, UpcycleRequest request, FfnActivation activation, ExpertLayout layout,
                                  List<Integer> layers) {
        ModelConfig source = in.source();
        if (!request.target().strip().equalsIgnoreCase(MoeTargets.AUTO)) {
            MoeTarget target = MoeTargets.byName(request.target());
            Attempt a = attempt(target, in, request, activation, layout, layers);
            a.refuseIfUnfit(request.allowApproximate());
            return a.finish(List.of("target " + target.cliName() + ": chosen with --target"));
        }
        List<Attempt> attempts = new ArrayList<>();
        for (MoeTarget t : MoeTargets.all()) {
            attempts.add(attempt(t, in, request, activation, layout, layers));
        }
        Attempt chosen = attempts.stream().filter(Attempt::exactFit).findFirst()
                .or(() -> request.allowApproximate()
                        ? attempts.stream().filter(a -> a.impossible.isEmpty()).findFirst() : java.util.Optional.empty())
                .orElseThrow(() -> new UpcycleException(ErrorKind.ImpossibleCombination, "--target auto",
                        "no target can express this " + source.family().name() + " model with these options: "
                                + attempts.stream().map(a -> a.target.cliName() + ": " + String.join("; ", a.problems()))
                                .collect(Collectors.joining(" | ")),
                        request.allowApproximate() ? null
                                : "--allow-approximate accepts a target whose attention or norms differ from the source"));
        List<String> why = new ArrayList<>();
        StringBuilder b = new StringBuilder("target " + chosen.target.cliName() + " (auto): it reproduces the source's "
                + "attention and norms and expresses " + request.spec().routing() + " routing");
        for (Attempt a : attempts) {
            if (a == chosen) {
                break;
            }
            b.append("; not ").append(a.target.cliName()).append(": ").append(String.join("; ", a.problems()));
        }
        why.add(b.toString());
        return chosen.finish(why);
    }

    private Attempt attempt(MoeTarget target, Inputs in, UpcycleRequest request, FfnActivation activation,
                            ExpertLayout layout, List<Integer> layers) {
        ModelConfig source = in.source();
        Attempt a = new Attempt(target, source, in.first(), request, activation, layout, layers);
        a.seedTensors = in.seedTensors();
        a.identicalSeeds = in.identicalSeeds();
        a.blocks = in.blocks();
        if (in.blocks().parallel() && !target.attentionExperts()) {
            a.impossible.add(target.cliName() + " has sequential blocks only, and the output's blocks are parallel; "
                    + "use --target native");
        }
        a.impossible.addAll(target.impossible(source, request.spec(), layers));
        if (a.impossible.isEmpty()) {
            a.approximations.addAll(target.approximations(source));
            a.build(registry.byName(target.familyName()));
        }
        return a;
    }

    /** One target tried: its problems, and the tensors and config when it can be written. */
    private static final class Attempt {
        final MoeTarget target;
        final ModelConfig source;
        final Map<String, TensorHeader> tensors;
        final UpcycleRequest request;
        final FfnActivation activation;
        final ExpertLayout layout;
        final List<Integer> layers;
        final List<String> impossible = new ArrayList<>();
        final List<String> approximations = new ArrayList<>();
        final List<String> warnings = new ArrayList<>();
        final ScaleFactors factors;
        List<Map<String, TensorHeader>> seedTensors;
        /** Several seeds whose tensors are byte-identical: the merge is one dense function. */
        boolean identicalSeeds;
        BlockSpec.Resolved blocks;
        ModelConfig config;
        List<PlannedTensor> planned;

        Attempt(MoeTarget target, ModelConfig source, Map<String, TensorHeader> tensors, UpcycleRequest request,
                FfnActivation activation, ExpertLayout layout, List<Integer> layers) {
            this.target = target;
            this.source = source;
            this.tensors = tensors;
            this.request = request;
            this.activation = activation;
            this.layout = layout;
            this.layers = layers;
            this.factors = Scaling.factors(request.spec(), activation);
        }

        boolean exactFit() {
            return impossible.isEmpty() && approximations.isEmpty();
        }

        List<String> problems() {
            return impossible.isEmpty() ? approximations : impossible;
        }

        void refuseIfUnfit(boolean allowApproximate) {
            if (!impossible.isEmpty()) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--target " + target.cliName(),
                        String.join("; ", impossible));
            }
            if (!approximations.isEmpty() && !allowApproximate) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--target " + target.cliName(),
                        "cannot reproduce the " + source.family().name() + " source: " + String.join("; ", approximations),
                        "pass --allow-approximate to convert anyway (step 0 will not match the dense model)");
            }
        }

        void build(Family family) {
            UpcycleSpec spec = request.spec();
            config = target.config(source, family, request, layout, layers);
            Family src = source.family();
            DType modelDtype = modelDtype();
            Set<String> used = new HashSet<>();
            planned = new ArrayList<>();
            for (ExpectedTensor e : family.expectedTensors(config)) {
                TensorSource s = sourceOf(e, src, used);
                DType dtype = request.dtype() != null ? request.dtype()
                        : s.sourceName() != null ? writable(tensors.get(s.sourceName()).dtype()) : modelDtype;
                planned.add(new PlannedTensor(e.name(), e.role(), e.layer(), e.expert(), dtype, e.shape(), s, null));
            }
            dropped(used);
        }

        private TensorSource sourceOf(ExpectedTensor e, Family src, Set<String> used) {
            int layer = e.layer();
            UpcycleSpec spec = request.spec();
            MoaSpec moa = request.moa();
            int n = seeds();
            TensorSource s = switch (e.role()) {
                // shared_kv_init seed:X takes the shared k/v from seed X instead of the mean.
                case ATTN_K, ATTN_V, ATTN_K_BIAS, ATTN_V_BIAS -> moa != null && moa.sharedKvSeed() != null
                        && config.isMoaLayer(layer) ? seed(moa.sharedKvSeed(), single(e, src)) : averaged(e, src);
                case ATTN_ROUTER -> new TensorSource.Router(moa.routerInit(), moa.routerStd(), spec.seed(),
                        moa.experts(), 1, layer);
                case ATTN_EXPERT_Q, ATTN_EXPERT_K, ATTN_EXPERT_V, ATTN_EXPERT_O, ATTN_EXPERT_Q_BIAS,
                        ATTN_EXPERT_K_BIAS, ATTN_EXPERT_V_BIAS, ATTN_EXPERT_O_BIAS ->
                        // A merge: attention expert X is a copy of seed X's attention.
                        seed(e.expert() / (moa.experts() / n), copyOrZeros(src, e.role().denseAttention(), layer));
                case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> n == 1 ? sliceExpert(e, src)
                        // FFN expert X of a merge is seed X's whole MLP.
                        : seed(e.expert() / (spec.experts() / n), new TensorSource.Copy(src.tensorName(
                                e.role() == TensorRole.EXPERT_GATE ? TensorRole.MLP_GATE
                                        : e.role() == TensorRole.EXPERT_UP ? TensorRole.MLP_UP : TensorRole.MLP_DOWN,
                                layer, -1)));
                default -> averaged(e, src);
            };
            double noise = request.expertNoiseStd();
            if (noise > 0 && (e.role().isAttentionExpert() || e.role().isRoutedExpert()) && !e.role().isBias()
                    && s.sourceName() != null) {
                s = new TensorSource.Noisy(s, noise, spec.seed());
            }
            if (s.sourceName() != null) {
                if (!tensors.containsKey(s.sourceName())) {
                    throw new IllegalStateException("plan reads " + s.sourceName() + ", which the source lacks");
                }
                used.add(s.sourceName());
            }
            return s;
        }

        int seeds() {
            return seedTensors == null ? 1 : seedTensors.size();
        }

        /** One seed, or several byte-identical ones: every expert copies the same dense function. */
        boolean oneFunction() {
            return seeds() == 1 || identicalSeeds;
        }

        /** {@code inner} read from seed {@code index} (no wrapper for a single seed). */
        private TensorSource seed(int index, TensorSource inner) {
            return seeds() == 1 || inner.sourceName() == null ? inner : new TensorSource.Seed(index, inner);
        }

        /**
         * The tensor of the one seed, or the mean over several (in a merge, what is not an expert is
         * averaged).
         */
        private TensorSource averaged(ExpectedTensor e, Family src) {
            return seeds() == 1 ? single(e, src) : mean(single(e, src));
        }

        /** The mean over the seeds of a whole tensor; synthesised tensors stay as they are. */
        private TensorSource mean(TensorSource one) {
            if (!(one instanceof TensorSource.Copy)) {
                return one;
            }
            List<TensorSource> parts = new ArrayList<>();
            for (int i = 0; i < seeds(); i++) {
                parts.add(new TensorSource.Seed(i, one));
            }
            return new TensorSource.Mean(parts);
        }

        /** The source's {@code role} tensor of {@code layer}, or zeros for a bias it lacks. */
        private TensorSource copyOrZeros(Family src, TensorRole role, int layer) {
            if (src.has(role)) {
                String name = src.tensorName(role, layer, -1);
                if (tensors.containsKey(name)) {
                    return new TensorSource.Copy(name);
                }
            }
            if (role.isBias()) {
                return new TensorSource.Zeros();
            }
            throw new IllegalStateException("no source for " + role + " of layer " + layer);
        }

        private TensorSource single(ExpectedTensor e, Family src) {
            UpcycleSpec spec = request.spec();
            int layer = e.layer();
            return switch (e.role()) {
                case ROUTER -> new TensorSource.Router(spec.routerInit(), spec.routerStd(), spec.seed(), spec.experts(),
                        spec.granularity(), layer);
                case SHARED_EXPERT_GATE_PROJ -> layout.hasSharedExpert()
                        ? rows(src.tensorName(TensorRole.MLP_GATE, layer, -1), layout.sharedNeurons(), factors.sharedGateUp())
                        : new TensorSource.Zeros();
                case SHARED_EXPERT_UP -> layout.hasSharedExpert()
                        ? rows(src.tensorName(TensorRole.MLP_UP, layer, -1), layout.sharedNeurons(), factors.sharedGateUp())
                        : new TensorSource.Zeros();
                case SHARED_EXPERT_DOWN -> layout.hasSharedExpert()
                        ? columns(src.tensorName(TensorRole.MLP_DOWN, layer, -1), layout.sharedNeurons(), factors.sharedDown())
                        : new TensorSource.Zeros();
                // sigmoid(0) = 1/2 for every token; the shared down projection carries the x2
                // (docs/method.md, "Shared experts").
                case SHARED_EXPERT_ROUTER -> new TensorSource.Zeros();
                default -> same(e, src);
            };
        }

        private TensorSource sliceExpert(ExpectedTensor e, Family src) {
            int layer = e.layer();
            return switch (e.role()) {
                case EXPERT_GATE -> rows(src.tensorName(TensorRole.MLP_GATE, layer, -1), layout.gateUpRows(e.expert()),
                        factors.cGate());
                case EXPERT_UP -> rows(src.tensorName(TensorRole.MLP_UP, layer, -1), layout.gateUpRows(e.expert()),
                        factors.cUp());
                default -> columns(src.tensorName(TensorRole.MLP_DOWN, layer, -1),
                        layout.downColumns(e.expert()), factors.routedDownZeroed() ? 0.0 : factors.cDown());
            };
        }

        /** A tensor with the same role in source and target: copied, or synthesised when the source lacks it. */
        private TensorSource same(ExpectedTensor e, Family src) {
            if (src.has(e.role())) {
                String name = src.tensorName(e.role(), e.layer(), -1);
                if (tensors.containsKey(name)) {
                    return new TensorSource.Copy(name);
                }
            }
            if (e.role().isBias()) {
                // A zero bias is no bias: exact (docs/formats.md, "Choosing a target": Llama to
                // Qwen2-MoE).
                return new TensorSource.Zeros();
            }
            if (e.role() == TensorRole.ATTN_Q_NORM || e.role() == TensorRole.ATTN_K_NORM) {
                return new TensorSource.Constant(1.0);
            }
            if (e.role() == TensorRole.MLP_NORM && src.has(TensorRole.ATTN_NORM)) {
                // A one-norm parallel seed applies input_layernorm to the FFN's input too; a second
                // norm that copies it computes the same thing (docs/attention-experts.md,
                // "Block layouts").
                return new TensorSource.Copy(src.tensorName(TensorRole.ATTN_NORM, e.layer(), -1));
            }
            throw new IllegalStateException("no source for " + e.name() + " (" + e.role() + ")");
        }

        private TensorSource rows(String name, IndexRange r, double factor) {
            if (factor == 0.0) {
                return new TensorSource.Zeros();
            }
            long rowsInSource = tensors.get(name).shape().dim(0);
            if (r.start() == 0 && r.end() == rowsInSource && factor == 1.0) {
                return new TensorSource.Copy(name);
            }
            return new TensorSource.RowSlice(name, r.start(), r.end(), factor);
        }

        private TensorSource columns(String name, IndexRange r, double factor) {
            if (factor == 0.0) {
                return new TensorSource.Zeros();
            }
            long cols = tensors.get(name).shape().dim(1);
            if (r.start() == 0 && r.end() == cols && factor == 1.0) {
                return new TensorSource.Copy(name);
            }
            return new TensorSource.ColumnSlice(name, r.start(), r.end(), factor);
        }

        /** Source tensors the target has no place for: each changes the function when dropped. */
        private void dropped(Set<String> used) {
            Family src = source.family();
            Map<TensorRole, List<String>> lost = new EnumMap<>(TensorRole.class);
            for (String name : new TreeMap<>(tensors).keySet()) {
                if (used.contains(name) || name.endsWith(INV_FREQ)) {
                    continue;
                }
                TensorId id = src.roleOf(name).orElse(null);
                if (id == null) {
                    continue;
                }
                boolean upcycledMlp = layers.contains(id.layer()) && (id.role() == TensorRole.MLP_GATE
                        || id.role() == TensorRole.MLP_UP || id.role() == TensorRole.MLP_DOWN);
                boolean tiedHead = id.role() == TensorRole.LM_HEAD && source.tieWordEmbeddings();
                // A forced layout change already gives up step-0 equality, and says so in the verdict.
                boolean forcedNorm = id.role() == TensorRole.MLP_NORM && blocks.changed();
                if (!upcycledMlp && !tiedHead && !forcedNorm) {
                    lost.computeIfAbsent(id.role(), r -> new ArrayList<>()).add(name);
                }
            }
            for (var entry : lost.entrySet()) {
                List<String> names = entry.getValue();
                approximations.add(target.cliName() + " has no place for the source's " + names.size() + " "
                        + entry.getKey().name().toLowerCase(Locale.ROOT) + " tensor" + (names.size() == 1 ? "" : "s")
                        + " (e.g. " + names.get(0) + "), so they would be dropped");
            }
        }

        /** The dtype synthesised tensors get: that of the embedding, the model's main dtype. */
        private DType modelDtype() {
            TensorHeader embed = tensors.get(source.family().tensorName(TensorRole.EMBED));
            return writable(embed != null ? embed.dtype() : source.dtypeHint().orElse(DType.F32));
        }

        private DType writable(DType d) {
            return d.isWritable() ? d : DType.F32;
        }

        UpcyclePlan finish(List<String> choices) {
            refuseIfUnfit(request.allowApproximate());
            UpcycleSpec spec = request.spec();
            List<TensorSpec> specs = planned.stream().map(PlannedTensor::spec).toList();
            List<ShardPlan> shards = CheckpointWriter.planShards(specs, request.maxShardSize());
            Map<String, String> shardOf = new HashMap<>();
            for (ShardPlan s : shards) {
                s.tensors().forEach(t -> shardOf.put(t.name(), s.fileName()));
            }
            List<PlannedTensor> out = new ArrayList<>(planned.size());
            long total = 0;
            long active = 0;
            long bytes = 0;
            for (PlannedTensor t : planned) {
                out.add(new PlannedTensor(t.name(), t.role(), t.layer(), t.expert(), t.dtype(), t.shape(), t.source(),
                        shardOf.get(t.name())));
                long n = t.shape().elements();
                total += n;
                if (config.isActive(t.role(), t.expert())) {
                    active += n;
                }
                bytes += t.byteSize();
            }
            Fidelity math = identicalSeeds
                    ? FidelityAnalysis.assessIdenticalMerge(spec, seeds(), target.expresses(spec.routing()))
                    : routerRoundedToZero(spec, FidelityAnalysis.assess(spec, activation,
                    target.expresses(spec.routing())));
            Fidelity fidelity = math;
            if (!approximations.isEmpty()) {
                List<String> reasons = new ArrayList<>(approximations.stream()
                        .map(r -> "The target cannot reproduce the source: " + r + ".").toList());
                if (!math.isExact()) {
                    reasons.addAll(math.reasons());
                }
                fidelity = new Fidelity(Fidelity.Verdict.NOT_PRESERVING, reasons, math.warnings(), OptionalDouble.empty());
            }
            fidelity = withAttentionAndSeeds(fidelity);
            List<String> allChoices = new ArrayList<>(choices);
            allChoices.addAll(explain(spec));
            collectWarnings(out);
            return new UpcyclePlan(request, source, target, config, layout, factors, activation, layers, out, shards,
                    total, active, bytes, fidelity, allChoices, warnings);
        }

        /**
         * A random router so narrow that every draw rounds to zero in its dtype is the zero router,
         * and its selection is left to the top-K's tie order. Only ever makes the verdict worse: a
         * draw beyond 8 sigma (probability ~1e-15 each) would not round to zero.
         */
        private Fidelity routerRoundedToZero(UpcycleSpec spec, Fidelity math) {
            if (spec.routerInit() == RouterInit.ZERO) {
                return math;
            }
            DType d = planned.stream().filter(t -> t.role() == TensorRole.ROUTER).map(PlannedTensor::dtype)
                    .findFirst().orElse(null);
            // Draws are stored as float32 before the output dtype: below half the smallest subnormal
            // of either, a value rounds (to nearest even) to zero.
            double zeroBelow = d == DType.F16 ? 0x1p-25 : d == DType.BF16 ? 0x1p-134 : 0x1p-150;
            if (d == null || 8 * spec.routerStd() >= zeroBelow) {
                return math;
            }
            Fidelity zero = FidelityAnalysis.assess(spec.toBuilder().routerInit(RouterInit.ZERO).build(), activation,
                    target.expresses(spec.routing()));
            if (zero.verdict().compareTo(math.verdict()) <= 0) {
                return math;
            }
            List<String> reasons = new ArrayList<>();
            reasons.add("--router-std " + TensorSource.fmt(spec.routerStd()) + " is so small that every router weight "
                    + "rounds to zero in " + d + ", so the " + spec.routerInit() + " router is the zero router.");
            reasons.addAll(zero.reasons());
            return new Fidelity(zero.verdict(), reasons, zero.warnings(), zero.expectedRelativeError());
        }

        /**
         * Identical attention experts preserve the function, merged seeds do not
         * (docs/attention-experts.md, "One seed: copies, and why the router then learns nothing" and
         * "Several seeds: BTX and BAM merges"), unless they are byte-identical: then every expert is
         * the same function, as with one seed.
         */
        private Fidelity withAttentionAndSeeds(Fidelity f) {
            MoaSpec moa = request.moa();
            List<String> reasons = new ArrayList<>(f.reasons());
            List<String> warns = new ArrayList<>(f.warnings());
            if (blocks.changed()) {
                return new Fidelity(Fidelity.Verdict.NOT_PRESERVING, List.of("Block layout: the seed's "
                        + BlockSpec.layoutOf(source).token() + " blocks are written as " + blocks.layout().token()
                        + " blocks (--force-parallel); the FFN now reads a different input, so step 0 does not "
                        + "match the seed."), warns, OptionalDouble.empty());
            }
            if (moa != null) {
                reasons.add(String.format(Locale.ROOT, "Attention: %d identical copies of the attention per MoA layer "
                        + "(%s), %s; weights g_e >= 0 summing to 1 give sum_e g_e A(h) = A(h), so the attention is "
                        + "unchanged for any router.", moa.experts(), moa.variant().token(),
                        moa.topK() == null ? "soft routing over all experts" : "top-" + moa.topK() + " renormalised"));
                if (oneFunction() && moa.routerInit() == RouterInit.ZERO && request.expertNoiseStd() == 0) {
                    warns.add("attention router init zero with " + (seeds() == 1 ? "one seed" : "identical seeds")
                            + " and no expert noise: identical experts get "
                            + "identical updates and never diverge; use --attention-router-init random "
                            + "or --expert-noise-std");
                }
            }
            double noise = request.expertNoiseStd();
            if (noise > 0 && oneFunction()) {
                reasons = new ArrayList<>(List.of(String.format(Locale.ROOT, "Expert noise: N(0, %s^2) is added to "
                        + "every copied expert weight (--expert-noise-std), so the experts are no longer identical "
                        + "and step 0 differs from the dense model by an amount that grows with the noise.",
                        TensorSource.fmt(noise))));
                return new Fidelity(f.verdict() == Fidelity.Verdict.NOT_PRESERVING ? f.verdict()
                        : Fidelity.Verdict.APPROXIMATE, reasons, warns, OptionalDouble.empty());
            }
            if (!oneFunction()) {
                reasons = new ArrayList<>(List.of("Merging " + seeds() + " seeds (" + (moa == null ? "BTX" : "BAM "
                        + moa.variant().token()) + "): experts come from different models and the other tensors are "
                        + "their mean, so the result matches no seed."));
                return new Fidelity(Fidelity.Verdict.NOT_PRESERVING, reasons, warns, OptionalDouble.empty());
            }
            return new Fidelity(f.verdict(), reasons, warns, f.expectedRelativeError());
        }

        private List<String> explain(UpcycleSpec spec) {
            List<String> c = new ArrayList<>();
            c.add(String.format(Locale.ROOT, "%s: N=%d experts (E=%d copies x G=%d shards of the dense FFN, F=%d -> "
                            + "expert width %d), top-k %d", spec.configName(), spec.experts(), spec.expansion(),
                    spec.granularity(), layout.denseIntermediate(), layout.expertIntermediate(), spec.topK()));
            if (layers.size() == source.numHiddenLayers()) {
                c.add("layers: all " + layers.size() + " layers become MoE layers");
            } else {
                var moe = config.moe();
                c.add("layers: " + layers + " become MoE layers (--layers " + request.layers() + "), the others stay "
                        + "dense; written as decoder_sparse_step " + moe.decoderSparseStep() + ", mlp_only_layers "
                        + moe.mlpOnlyLayers());
            }
            c.add(String.format(Locale.ROOT, "routing %s (%s); output scale s=%s; %s scaling for %s: c_gate=%s c_up=%s "
                            + "c_down=%s", spec.routing(), config.family().name().equals("mixtral")
                            ? "Mixtral always renormalises" : "norm_topk_prob=" + spec.routing().normTopkProb(),
                    TensorSource.fmt(factors.s()), spec.scaling(), activation, TensorSource.fmt(factors.cGate()),
                    TensorSource.fmt(factors.cUp()), TensorSource.fmt(factors.routedDownZeroed() ? 0 : factors.cDown())));
            c.add(new TensorSource.Router(spec.routerInit(), spec.routerStd(), spec.seed(), spec.experts(),
                    spec.granularity(), 0).describe());
            if (layout.hasSharedExpert()) {
                c.add("shared expert (" + spec.sharedExpertMode() + "): dense neurons " + layout.sharedNeurons()
                        + ", down x" + TensorSource.fmt(factors.sharedDown()) + " for the zero sigmoid gate"
                        + (layout.routedDownZeroed() ? "; routed down projections zeroed" : ""));
            } else if (config.moe().hasSharedExpert()) {
                c.add("shared expert: qwen2-moe needs one in every sparse layer; written as an all-zero expert of "
                        + "width 1, whose output is exactly 0");
            }
            if (request.moa() != null) {
                MoaSpec moa = request.moa();
                c.add("attention experts: " + moa.experts() + " per layer, variant " + moa.variant().token() + ", "
                        + (moa.topK() == null ? "soft routing" : "top-" + moa.topK()) + "; "
                        + new TensorSource.Router(moa.routerInit(), moa.routerStd(), spec.seed(), moa.experts(), 1, 0)
                        .describe().replace("router:", "attention router:"));
            }
            if (seeds() > 1) {
                c.add("merge of " + seeds() + " seeds: FFN expert X and attention expert X from seed X / (experts per "
                        + "seed); embeddings, norms, lm_head" + (request.moa() == null ? ", attention" : "")
                        + (request.moa() != null && request.moa().variant() == dev.upcycle.model.MoaConfig.Variant.SHARED_KV
                        ? ", shared k/v" : "") + " averaged in float64"
                        + (identicalSeeds ? "; the seeds' tensors are byte-identical, so every expert is the same "
                        + "dense function" : ""));
            }
            if (blocks.parallel() || blocks.changed()) {
                c.add("blocks: " + blocks.layout().token() + (blocks.parallel() ? " with " + blocks.norms()
                        + (blocks.norms() == 1 ? " norm" : " norms") : "") + (blocks.changed()
                        ? " (forced; the seed's are " + BlockSpec.layoutOf(source).token() + ")" : " (as the seed)"));
            }
            if (request.moa() != null && request.moa().variant() == dev.upcycle.model.MoaConfig.Variant.SHARED_KV
                    && seeds() > 1) {
                c.add("shared k/v: " + (request.moa().sharedKvSeed() == null ? "mean of the seeds"
                        : "copied from seed " + request.moa().sharedKvSeed()) + " (--shared-kv-init)");
            }
            if (request.expertNoiseStd() > 0) {
                c.add("expert noise: N(0, " + TensorSource.fmt(request.expertNoiseStd()) + "^2) added to every copied "
                        + "expert weight, drawn per tensor from seed " + spec.seed());
            }
            c.add("dtype: " + (request.dtype() == null ? "kept from the source" : request.dtype().safetensorsName()));
            return c;
        }

        private void collectWarnings(List<PlannedTensor> out) {
            Map<String, Integer> narrowing = new LinkedHashMap<>();
            for (PlannedTensor t : out) {
                String s = t.source().sourceName();
                if (s != null) {
                    DType from = tensors.get(s).dtype();
                    if (from != t.dtype() && from.bytes() > t.dtype().bytes()) {
                        narrowing.merge(from + " -> " + t.dtype(), 1, Integer::sum);
                    }
                }
            }
            narrowing.forEach((k, n) -> warnings.add("dtype " + k + " rounds " + n + " tensors (round to nearest even)"));
            if (source.useSlidingWindow() && !config.family().declares("use_sliding_window")
                    && source.slidingWindow() != null && approximations.isEmpty()) {
                warnings.add("sliding window " + source.slidingWindow() + " carried as Mixtral's sliding_window");
            }
        }
    }
}
