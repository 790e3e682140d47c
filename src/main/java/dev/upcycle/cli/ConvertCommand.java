package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.convert.Converter;
import dev.upcycle.convert.PlanReport;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.LayerSelection;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.RequestNormaliser;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.recipe.MergekitConfig;
import dev.upcycle.recipe.MergekitParser;
import dev.upcycle.runtime.PromptGates;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code upcycle convert}: dense to MoE upcycling (docs/method.md; options in README.md). */
@Command(name = "convert", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Upcycle a dense model into a Mixture-of-Experts checkpoint: every expert starts as a copy "
                + "(or a neuron shard) of the dense FFN, attention, norms and embeddings are copied. The plan "
                + "(every tensor, its source, slice, scale, dtype and file; parameter counts; whether step 0 "
                + "reproduces the dense model) is printed with --dry-run. Impossible combinations exit 3 before "
                + "anything is written; the output directory is complete or absent."},
        footerHeading = "%nExamples:%n",
        footer = {"  upcycle convert models/llama-1b -o models/llama-1b-e8t2 --experts 8 --top-k 2",
                "  upcycle convert models/qwen3-1b -o out --experts 64 --granularity 8 \\",
                "      --top-k 8 --routing topk-softmax --scaling exact-balanced --dry-run"})
final class ConvertCommand implements Callable<Integer>, KeyFigures {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "DENSE_DIR", descriptionKey = "inputs",
            description = "The dense checkpoint directory, or a model id ORG/NAME[@REVISION] in the Hugging Face cache; several seeds of identical architecture are merged (BTX, or BAM with --attention moa-*). Required unless --config.")
    List<Path> inputs;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR",
            description = "Output directory (required unless --dry-run); written under a temporary name and renamed when complete.")
    Path output;

    @Option(names = "--config", paramLabel = "FILE",
            description = "A mergekit-moe configuration (YAML: base_model, experts with source_model and prompts, gate_mode, dtype, experts_per_token, shared_experts, architecture; this tool's keys under upcycle:), read instead of DENSE_DIR and the expert options; see docs/mergekit.md.")
    Path config;

    /** Router rows from prompts for --config; tests put a deterministic one here. */
    MergekitConversion.GateComputer gates = PromptGates::compute;

    /** What upcycle.json records of the --config file, or null. */
    private com.fasterxml.jackson.databind.node.ObjectNode mergekit;

    @Option(names = "--experts", paramLabel = "N", defaultValue = "8",
            description = "Routed experts per MoE layer, counting fine-grained shards: N = E x G (default: ${DEFAULT-VALUE}; with several seeds, one per seed).")
    int experts;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "2",
            description = "Experts per token (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--granularity", paramLabel = "G", defaultValue = "1",
            description = "Split the dense FFN into G neuron shards per copy; 1 or a divisor of the intermediate size (default: ${DEFAULT-VALUE}).")
    int granularity;

    @Option(names = "--routing", completionCandidates = Candidates.Routing.class, paramLabel = "MODE", defaultValue = "topk-softmax",
            description = "topk-softmax (top-K, then softmax over them: exact at step 0, Mixtral's) or softmax-topk (softmax over all experts, top-K, no renormalisation; the paper's choice, see recipes/paper.yaml) (default: ${DEFAULT-VALUE}).")
    String routing;

    @Option(names = "--scaling", completionCandidates = Candidates.Scaling.class, paramLabel = "MODE", defaultValue = "paper",
            description = "paper (Megatron's equal split), exact-balanced, exact-down or none; see docs/method.md, Scaling modes (default: ${DEFAULT-VALUE}).")
    String scaling;

    @Option(names = "--router-init", completionCandidates = Candidates.Router.class, paramLabel = "MODE", defaultValue = "virtual-group",
            description = "virtual-group, random or zero (default: ${DEFAULT-VALUE}; random for merges of several seeds).")
    String routerInit;

    @Option(names = "--router-std", paramLabel = "SIGMA", defaultValue = "0.02",
            description = "Standard deviation of the random router (default: ${DEFAULT-VALUE}).")
    double routerStd;

    @Option(names = "--shared-experts", paramLabel = "0|1", defaultValue = "0",
            description = "1 adds a function-preserving shared expert with a sigmoid gate (qwen2-moe target) (default: ${DEFAULT-VALUE}).")
    int sharedExperts;

    @Option(names = "--shared-expert-size", paramLabel = "F_S",
            description = "Intermediate size of the shared expert (required for --shared-expert-mode split).")
    Integer sharedExpertSize;

    @Option(names = "--shared-expert-mode", completionCandidates = Candidates.SharedMode.class, paramLabel = "MODE", defaultValue = "split",
            description = "split (the first F_S neurons form the shared expert) or full-copy (default: ${DEFAULT-VALUE}).")
    String sharedExpertMode;

    @Option(names = "--layers", paramLabel = "SEL", defaultValue = "all",
            description = "all, every:N (layers L with (L+1) mod N = 0) or a list like 0,2,5-7; other layers stay dense (default: ${DEFAULT-VALUE}).")
    String layers;

    @Option(names = "--target", completionCandidates = Candidates.Target.class, paramLabel = "NAME", defaultValue = "auto",
            description = "auto, mixtral, qwen2-moe, qwen3-moe, native (needed for attention experts); auto picks a target that preserves the source's function (default: ${DEFAULT-VALUE}).")
    String target;

    @Option(names = "--attention", completionCandidates = Candidates.Attention.class, paramLabel = "MODE", defaultValue = "keep",
            description = "keep, moa-separate (experts own q, k, v, o) or moa-shared-kv (experts own q, o; one k, v per layer); MoA writes the native format (default: ${DEFAULT-VALUE}).")
    String attention;

    @Option(names = "--attention-experts", paramLabel = "M",
            description = "Attention experts per MoA layer (default: --experts with one seed, the number of seeds with several).")
    Integer attentionExperts;

    @Option(names = "--attention-top-k", paramLabel = "K",
            description = "Attention experts per token, renormalised; soft routing (all experts) when omitted or equal to M.")
    Integer attentionTopK;

    @Option(names = "--attention-router-init", completionCandidates = Candidates.AttentionRouter.class, paramLabel = "MODE", defaultValue = "random",
            description = "random (N(0, --router-std^2)) or zero; zero with one seed never lets identical experts diverge (default: ${DEFAULT-VALUE}).")
    String attentionRouterInit;

    @Option(names = "--shared-kv-init", paramLabel = "mean|seed:X", defaultValue = "mean",
            description = "Shared k/v of a moa-shared-kv merge: the mean of the seeds, or seed X's (0 = first input) (default: ${DEFAULT-VALUE}).")
    String sharedKvInit;

    @Option(names = "--expert-noise-std", paramLabel = "SIGMA", defaultValue = "0",
            description = "Add N(0, SIGMA^2) noise to every copied expert weight (attention and FFN), so identical experts can diverge even under a zero router; step 0 is then approximate (default: ${DEFAULT-VALUE}).")
    double expertNoiseStd;

    @Option(names = "--block-layout", completionCandidates = Candidates.BlockLayout.class, paramLabel = "LAYOUT", defaultValue = "seed",
            description = "seed, sequential or parallel: the output's blocks; a layout the seed does not have needs --force-parallel (default: ${DEFAULT-VALUE}).")
    String blockLayout;

    @Option(names = "--parallel-norms", paramLabel = "1|2",
            description = "Norms per parallel block: 1 (input_layernorm only, BAM) or 2 (both on x) (default: the seed's, 2 for a sequential seed).")
    Integer parallelNorms;

    @Option(names = "--force-parallel",
            description = "Accept a block layout the seed was not trained with; step 0 then no longer matches the seed.")
    boolean forceParallel;

    @Option(names = "--dtype", completionCandidates = Candidates.ConvertDtype.class, paramLabel = "TYPE", defaultValue = "keep",
            description = "keep, f32, bf16 or f16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Router seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", paramLabel = "SIZE", defaultValue = "5GB",
            description = "Largest output shard: B, KB, MB, GB, KiB, MiB, GiB (default: ${DEFAULT-VALUE}).")
    String maxShardSize;

    @Option(names = "--dry-run", description = "Print the plan and write nothing.")
    boolean dryRun;

    @Option(names = "--tensors", description = "With --dry-run, also list every output tensor with its source, slice, scale and file.")
    boolean tensors;

    @Option(names = "--json", description = "Print one JSON document (the plan with --dry-run, else a summary).")
    boolean json;

    @Option(names = "--force", description = "Replace an existing output directory written by upcycle.")
    boolean force;

    @Option(names = "--allow-approximate",
            description = "Convert even when the target's attention or norms cannot express the source (e.g. llama to qwen3-moe).")
    boolean allowApproximate;

    @Option(names = "--allow-nonfinite", description = "Convert weights that hold NaN or Inf instead of refusing.")
    boolean allowNonfinite;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing on success but the --json document.")
    boolean quiet;

    @Override
    public Integer call() {
        MoaSpec.parseMode(attention);
        if (output == null && !dryRun) {
            throw new UpcycleException(ErrorKind.InvalidOption, "-o", "an output directory is required (or --dry-run)");
        }
        UpcycleRequest request;
        boolean nonfinite = allowNonfinite;
        if (config != null) {
            MergekitConfig file = MergekitParser.read(config);
            refuseWithConfig(file);
            MergekitConversion.Prepared p = MergekitConversion.prepare(file, FamilyRegistry.builtIn(), gates,
                    overrides());
            inputs = p.inputs();
            request = p.request();
            mergekit = p.recorded();
            nonfinite |= Boolean.TRUE.equals(file.additions().allowNonfinite());
        } else {
            if (inputs == null || inputs.isEmpty()) {
                throw new UpcycleException(ErrorKind.InvalidOption, "DENSE_DIR",
                        "give the dense model (a directory or a model id), or --config FILE");
            }
            inputs = ModelArgs.dirs(inputs);
            request = request();
        }
        Converter converter = new Converter(FamilyRegistry.builtIn());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (dryRun) {
            UpcyclePlan plan = converter.plan(inputs, request);
            out.print(json ? Json.pretty(Json.document(true, PlanReport.json(plan))) + "\n" : PlanReport.text(plan, tensors, verbose));
            return 0;
        }
        ProgressBar bar = ProgressBar.onTerminal(err, "convert", () -> converter.outputBytes(inputs, request),
                quiet || json);
        Converter.Result r;
        long started = System.nanoTime();
        try {
            // The bar advances when the executor starts the next tensor, i.e. when the previous one is written.
            long[] previous = {0};
            r = converter.convert(inputs, output, request,
                    new Converter.Settings(force, nonfinite, VersionInfo.version(), optionsJson(request),
                            verbose ? line -> err.println("upcycle: " + line) : null),
                    bar == null ? null : t -> {
                        bar.advance(previous[0]);
                        previous[0] = t.byteSize();
                    }, planned -> {
                        // Said before the write, so a long conversion does not end with a surprise.
                        if (!planned.fidelity().isExact()) {
                            err.println("upcycle: warning: " + PlanReport.verdictLine(planned.fidelity()));
                            if (verbose) {
                                err.println("upcycle: step 0 is " + PlanReport.verdict(planned.fidelity()));
                            }
                        }
                    });
            if (bar != null) {
                bar.advance(previous[0]);
            }
        } finally {
            if (bar != null) {
                bar.finish();
            }
        }
        UpcyclePlan plan = r.plan();
        written = plan;
        r.sourceWarnings().forEach(w -> err.println("upcycle: warning: " + w));
        if (verbose) {
            plan.choices().forEach(c -> err.println("upcycle: choice: " + c));
        }
        plan.fidelity().warnings().forEach(w -> err.println("upcycle: warning: " + w));
        plan.warnings().forEach(w -> err.println("upcycle: warning: " + w));
        // Said when a feature of this output needs a newer transformers than the family itself.
        if (!quiet && plan.transformersFloor().map(f -> !f.reasons().isEmpty()).orElse(false)) {
            err.println("upcycle: note: " + PlanReport.transformers(plan));
        }
        if (json) {
            ObjectNode doc = Json.document(true, PlanReport.summary(plan));
            doc.put("output", r.output().toString());
            out.println(Json.pretty(doc));
        } else if (!quiet) {
            out.printf("wrote %s: %s %s%s, %,d parameters (%,d active), step 0 %s; %s in %.1f s%n", r.output(),
                    plan.target().cliName(), plan.spec().configName(), attentionExperts(plan),
                    plan.totalParameters(), plan.activeParameters(),
                    plan.fidelity().verdict().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '),
                    size(r.outputs().stream().mapToLong(dev.upcycle.io.FileDigest::size).sum()),
                    (System.nanoTime() - started) / 1e9);
        }
        return 0;
    }

    private UpcycleRequest request() {
        var parsed = spec.commandLine().getParseResult();
        RequestNormaliser.SeedDefaults d = RequestNormaliser.seedDefaults(inputs.size(), new RequestNormaliser.Typed(
                experts, parsed.hasMatchedOption("--experts"), topK, parsed.hasMatchedOption("--top-k"),
                RouterInit.parse(routerInit), parsed.hasMatchedOption("--router-init"), attentionExperts));
        UpcycleSpec.Builder b = UpcycleSpec.builder().experts(d.experts()).topK(d.topK()).granularity(granularity)
                .routing(RoutingMode.parse(routing)).scaling(ScalingMode.parse(scaling))
                .routerInit(d.routerInit()).routerStd(routerStd).seed(seed)
                .sharedExperts(sharedExperts).sharedExpertMode(SharedExpertMode.parse(sharedExpertMode))
                .sharedExpertSize(sharedExpertSize == null ? 0 : sharedExpertSize);
        DType type = dtype.equalsIgnoreCase("keep") ? null : Options.writableDtype(dtype, "--dtype");
        MoaConfig.Variant variant = MoaSpec.parseMode(attention);
        Integer kvSeed = sharedKvSeed();
        MoaSpec moa = variant == null ? null : new MoaSpec(variant, d.attentionExperts(), attentionTopK,
                RouterInit.parse(attentionRouterInit), routerStd, kvSeed);
        BlockSpec block = new BlockSpec(BlockSpec.parseLayout(blockLayout), parallelNorms, forceParallel);
        return new UpcycleRequest(b.build(), target, LayerSelection.parse(layers), type, Options.size(maxShardSize),
                allowApproximate, UpcycleRequest.DEFAULT_AUX_LOSS, moa, block, expertNoiseStd);
    }

    /** Options that --config leaves to the command line: where the output goes, how it reports, and these. */
    private static final java.util.Set<String> WITH_CONFIG = java.util.Set.of("--output", "--config", "--dry-run",
            "--tensors", "--json", "--force", "--quiet", "--verbose", "--help", "--version", "--seed", "--dtype",
            "--max-shard-size", "--routing", "--allow-approximate", "--allow-nonfinite");

    /**
     * --config replaces the inputs and the options that shape the experts; the few it leaves open
     * are refused too when the file sets them.
     */
    private void refuseWithConfig(MergekitConfig file) {
        if (inputs != null && !inputs.isEmpty()) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--config", "the configuration names the models "
                    + "(base_model, experts); give no DENSE_DIR with it (found " + inputs.get(0) + ")");
        }
        var parsed = spec.commandLine().getParseResult();
        for (var o : parsed.matchedOptions()) {
            String name = o.longestName();
            String key = switch (name) {
                case "--seed" -> file.additions().seed() != null ? "upcycle.seed" : null;
                case "--dtype" -> file.dtype() != null ? "dtype" : null;
                case "--max-shard-size" -> file.additions().maxShardSize() != null ? "upcycle.max_shard_size" : null;
                case "--routing" -> file.additions().routing() != null ? "upcycle.routing" : null;
                case "--allow-nonfinite" -> file.additions().allowNonfinite() != null ? "upcycle.allow_nonfinite" : null;
                default -> null;
            };
            if (key != null) {
                throw new UpcycleException(ErrorKind.InvalidOption, name, "conflicts with --config: "
                        + file.file() + " sets it (" + key + ")");
            }
            if (!WITH_CONFIG.contains(name)) {
                throw new UpcycleException(ErrorKind.InvalidOption, name, "does not apply with --config: the "
                        + "mergekit-moe configuration decides the experts, their sources and the target "
                        + "(docs/mergekit.md lists its keys)");
            }
        }
    }

    private MergekitConversion.Overrides overrides() {
        var parsed = spec.commandLine().getParseResult();
        return new MergekitConversion.Overrides(parsed.hasMatchedOption("--seed") ? seed : null,
                parsed.hasMatchedOption("--dtype") ? dtype : null,
                parsed.hasMatchedOption("--max-shard-size") ? maxShardSize : null,
                parsed.hasMatchedOption("--routing") ? routing : null, allowApproximate);
    }

    /** ", 4 attention experts (moa-shared-kv)" for a MoA output, else "". */
    private static String attentionExperts(UpcyclePlan plan) {
        MoaSpec moa = plan.request().moa();
        if (moa == null) {
            return "";
        }
        return String.format(java.util.Locale.ROOT, " with %d attention experts%s (moa-%s)", moa.experts(),
                moa.activeExperts() == moa.experts() ? ""
                        : ", top-" + moa.activeExperts(), moa.variant().token().replace('_', '-'));
    }

    /** Bytes in the largest unit that keeps a number >= 1: "4.86 GB", "7.9 MB". */
    static String size(long bytes) {
        String[] units = {"B", "KB", "MB", "GB", "TB"};
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(java.util.Locale.ROOT, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s"
                : "%.2f %s", v, units[u]);
    }

    /** {@code --shared-kv-init}, refused when given without moa-shared-kv. */
    private Integer sharedKvSeed() {
        Integer seedIndex = MoaSpec.parseSharedKvInit(sharedKvInit);
        if (spec.commandLine().getParseResult().hasMatchedOption("--shared-kv-init")
                && MoaSpec.parseMode(attention) != MoaConfig.Variant.SHARED_KV) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--shared-kv-init",
                    "applies to --attention moa-shared-kv only (moa-separate experts keep their own k and v)");
        }
        return seedIndex;
    }

    /**
     * The options that decide the output's content (not where it goes), for upcycle.json: as given,
     * except those the request resolves (merge defaults, normalised names, MoA settings without MoA).
     */
    private ObjectNode optionsJson(UpcycleRequest r) {
        UpcycleSpec s = r.spec();
        MoaSpec moa = r.moa();
        boolean sharedKv = moa != null && moa.variant() == MoaConfig.Variant.SHARED_KV;
        RecordedOptions recorded = RecordedOptions.of(spec);
        if (mergekit != null) {
            recorded.resolved("target", r.target()).resolved("seed", s.seed())
                    .resolved("shared-experts", s.sharedExperts()).resolved("granularity", s.granularity())
                    .resolved("attention", moa == null ? "keep" : sharedKv ? "moa-shared-kv" : "moa-separate")
                    .extra("mergekit", mergekit);
        }
        return recorded
                .resolved("experts", s.experts())
                .resolved("top-k", s.topK())
                .resolved("routing", s.routing().cliName())
                .resolved("scaling", s.scaling().cliName())
                .resolved("router-init", s.routerInit().cliName())
                .resolved("shared-expert-size", s.sharedExpertSize())
                .resolved("shared-expert-mode", s.sharedExpertMode().cliName())
                .resolved("layers", r.layers().text())
                .resolved("attention-experts", moa == null ? null : moa.experts())
                .resolved("attention-top-k", moa == null ? null : moa.activeExperts())
                .resolved("attention-router-init", moa == null ? null : moa.routerInit().cliName())
                .resolved("shared-kv-init", sharedKv ? moa.sharedKvInitText() : null)
                .resolved("dtype", r.dtype() == null ? "keep" : r.dtype().safetensorsName().toLowerCase(java.util.Locale.ROOT))
                .extra("router-aux-loss-coef", r.routerAuxLossCoef())
                .json();
    }

    @picocli.CommandLine.Option(names = {"-v", "--verbose"},
            description = "Also print each phase with its duration and the choices the planner made.")
    boolean verbose;

    /** The plan of the conversion that ran, for the run summary. */
    private UpcyclePlan written;

    @Override
    public java.util.Map<String, Object> jsonFigures() {
        if (written == null) {
            return java.util.Map.of();
        }
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("step_0", written.fidelity().verdict().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
        m.put("active_parameters", written.activeParameters());
        m.put("total_parameters", written.totalParameters());
        return m;
    }

    @Override
    public java.util.Map<String, String> keyFigures() {
        if (written == null) {
            return java.util.Map.of();
        }
        return java.util.Map.of("step 0", written.fidelity().verdict().name().toLowerCase(java.util.Locale.ROOT)
                        .replace('_', ' '),
                "active", String.format(java.util.Locale.ROOT, "%,d/%,d", written.activeParameters(),
                        written.totalParameters()));
    }
}
