package dev.upcycle.plan;

import dev.upcycle.io.DType;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.ScaleFactors;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTarget;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The plan in words: why the target was chosen, one sentence per automatic choice (what
 * {@code --dry-run} and {@code -v} print), and the warnings about the output's dtypes and window.
 */
final class PlanExplainer {
    private PlanExplainer() {
    }

    /** The target named with {@code --target}. */
    static String chosenByName(MoeTarget target) {
        return "target " + target.cliName() + ": chosen with --target";
    }

    /** The target of a mergekit-moe configuration, chosen by mergekit's rule (docs/mergekit.md). */
    static String chosenAsMergekit(MoeTarget target) {
        if (target.attentionExperts()) {
            return "target " + target.cliName() + ": the only format that holds attention experts (upcycle.attention)";
        }
        return "target " + target.cliName() + ": the output architecture mergekit-moe chooses for this configuration";
    }

    /**
     * The target {@code auto} chose, and why each target tried before it was not.
     *
     * @param rejected the targets tried before it, each with its problems
     */
    static String chosenAutomatically(MoeTarget chosen, UpcycleSpec spec, Map<MoeTarget, List<String>> rejected) {
        StringBuilder b = new StringBuilder("target " + chosen.cliName() + " (auto): it reproduces the source's "
                + "attention and norms and expresses " + spec.routing() + " routing");
        rejected.forEach((t, problems) -> b.append("; not ").append(t.cliName()).append(": ")
                .append(String.join("; ", problems)));
        return b.toString();
    }

    /** One sentence per choice, automatic or asked for. */
    static List<String> choices(NormalisedRequest in, MoeTarget target, ModelConfig config) {
        UpcycleRequest request = in.request();
        UpcycleSpec spec = in.spec();
        ExpertLayout layout = in.layout();
        ScaleFactors factors = in.factors();
        ModelConfig source = in.source();
        List<Integer> layers = in.layers();
        if (request.sources() != null) {
            return composedChoices(in, target);
        }
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
                        + "c_down=%s", spec.routing(), target.routingNote(spec.routing()),
                TensorSource.fmt(factors.s()), spec.scaling(), in.activation(), TensorSource.fmt(factors.cGate()),
                TensorSource.fmt(factors.cUp()), TensorSource.fmt(factors.routedDownZeroed() ? 0 : factors.cDown())));
        c.add(new TensorSource.Router(spec.routerInit(), spec.routerStd(), spec.seed(), spec.experts(),
                spec.granularity(), 0).describe());
        if (layout.hasSharedExpert()) {
            c.add("shared expert (" + spec.sharedExpertMode() + "): dense neurons " + layout.sharedNeurons()
                    + ", down x" + TensorSource.fmt(factors.sharedDown()) + " for the zero sigmoid gate"
                    + (layout.routedDownZeroed() ? "; routed down projections zeroed" : ""));
        } else if (config.moe().hasSharedExpert()) {
            c.add("shared expert: " + target.cliName() + " needs one in every sparse layer; written as an all-zero "
                    + "expert of width 1, whose output is exactly 0");
        }
        MoaSpec moa = request.moa();
        if (moa != null) {
            c.add("attention experts: " + moa.experts() + " per layer, variant " + moa.variant().token() + ", "
                    + (moa.topK() == null ? "soft routing" : "top-" + moa.topK()) + "; "
                    + new TensorSource.Router(moa.routerInit(), moa.routerStd(), spec.seed(), moa.experts(), 1, 0)
                    .describe().replace("router:", "attention router:"));
        }
        boolean sharedKv = moa != null && moa.variant() == MoaConfig.Variant.SHARED_KV;
        if (in.seeds() > 1) {
            c.add("merge of " + in.seeds() + " seeds: FFN expert X and attention expert X from seed X / (experts per "
                    + "seed); embeddings, norms, lm_head" + (moa == null ? ", attention" : "")
                    + (sharedKv ? ", shared k/v" : "") + " averaged in float64"
                    + (in.identicalSeeds() ? "; the seeds' tensors are byte-identical, so every expert is the same "
                    + "dense function" : ""));
        }
        BlockSpec.Resolved blocks = in.blocks();
        if (blocks.parallel() || blocks.changed()) {
            c.add("blocks: " + blocks.layout().token() + (blocks.parallel() ? " with " + blocks.norms()
                    + (blocks.norms() == 1 ? " norm" : " norms") : "") + (blocks.changed()
                    ? " (forced; the seed's are " + source.blockLayout().token() + ")" : " (as the seed)"));
        }
        if (sharedKv && in.seeds() > 1) {
            c.add("shared k/v: " + (moa.sharedKvSeed() == null ? "mean of the seeds"
                    : "copied from seed " + moa.sharedKvSeed()) + " (--shared-kv-init)");
        }
        if (request.expertNoiseStd() > 0) {
            c.add("expert noise: N(0, " + TensorSource.fmt(request.expertNoiseStd()) + "^2) added to every copied "
                    + "expert weight, drawn per tensor from seed " + spec.seed());
        }
        c.add("dtype: " + (request.dtype() == null ? "kept from the source" : request.dtype().safetensorsName()));
        return c;
    }

    /** The choices of a conversion whose experts are named one by one (docs/mergekit.md). */
    private static List<String> composedChoices(NormalisedRequest in, MoeTarget target) {
        UpcycleRequest request = in.request();
        UpcycleSpec spec = in.spec();
        ExpertSources sources = request.sources();
        List<String> c = new ArrayList<>();
        c.add(String.format(Locale.ROOT, "%s: N=%d experts, each %s (width %d), top-k %d%s; all %d layers "
                        + "become MoE layers", spec.configName(), spec.experts(), spec.granularity() == 1 ? "a whole MLP"
                        : "1/" + spec.granularity() + " of the base model's MLP (upcycle.granularity)",
                spec.granularity() == 1 ? in.layout().denseIntermediate() : in.layout().expertIntermediate(), spec.topK(), sources.shared() == null ? "" : ", one shared expert",
                in.source().numHiddenLayers()));
        StringBuilder b = new StringBuilder("sources: attention, norms, embeddings and head from input 0 (the base "
                + "model)");
        for (int i = 0; i < sources.experts().size(); i++) {
            b.append("; expert ").append(i).append(member(sources.experts().get(i)));
        }
        if (sources.shared() != null) {
            b.append("; shared expert").append(member(sources.shared()));
        }
        c.add(b.toString());
        ScaleFactors factors = in.factors();
        c.add("routing " + spec.routing() + " (" + target.routingNote(spec.routing()) + "); " + (spec.scaling()
                == ScalingMode.NONE ? "no scaling" : String.format(Locale.ROOT, "output scale s=%s; %s scaling for %s "
                + "(upcycle.scaling): c_gate=%s c_up=%s c_down=%s", TensorSource.fmt(factors.s()), spec.scaling(),
                in.activation(), TensorSource.fmt(factors.cGate()), TensorSource.fmt(factors.cUp()),
                TensorSource.fmt(factors.cDown()))));
        MoaSpec moa = request.moa();
        if (moa != null) {
            c.add("attention experts: " + moa.experts() + " per layer, variant " + moa.variant().token() + ", "
                    + (moa.topK() == null ? "soft routing" : "top-" + moa.topK()) + "; attention expert i from "
                    + "expert i's input" + (moa.variant() == MoaConfig.Variant.SHARED_KV ? "; shared k/v "
                    + (moa.sharedKvSeed() == null ? (in.seeds() == 1 ? "from input 0" : "the mean of the inputs")
                    : "from input " + moa.sharedKvSeed()) : "") + "; "
                    + new TensorSource.Router(moa.routerInit(), moa.routerStd(), spec.seed(), moa.experts(), 1, 0)
                    .describe().replace("router:", "attention router:"));
        }
        GateRows g = sources.gates();
        c.add("router rows: " + switch (g.kind()) {
            case RANDOM -> "N(0, 1) per element, drawn from seed " + spec.seed();
            case UNIFORM_RANDOM -> "U(-1/sqrt(d), 1/sqrt(d)) per element, drawn from seed " + spec.seed();
            case GIVEN -> g.label() + ", computed from the prompts";
        });
        c.add("dtype: " + (request.dtype() == null ? "kept from the source" : request.dtype().safetensorsName()));
        return c;
    }

    private static String member(ExpertSources.Member m) {
        return " from input " + m.input() + (m.residualScale() == 1.0 ? "" : ", down_proj x"
                + TensorSource.fmt(m.residualScale())) + (m.noiseStd() == 0 ? "" : ", noise N(0, "
                + TensorSource.fmt(m.noiseStd()) + "^2)");
    }

    /**
     * Dtype narrowing, and a sliding window carried into a family that has no switch for it.
     *
     * @param exactTarget whether the target reproduces the source (no window note otherwise)
     */
    static List<String> warnings(NormalisedRequest in, ModelConfig config, List<PlannedTensor> tensors,
                                 boolean exactTarget) {
        List<String> warnings = new ArrayList<>();
        Map<String, Integer> narrowing = new LinkedHashMap<>();
        for (PlannedTensor t : tensors) {
            String s = t.source().sourceName();
            if (s != null) {
                DType from = in.tensors().get(s).dtype();
                if (from != t.dtype() && from.bytes() > t.dtype().bytes()) {
                    narrowing.merge(from + " -> " + t.dtype(), 1, Integer::sum);
                }
            }
        }
        narrowing.forEach((k, n) -> warnings.add("dtype " + k + " rounds " + n + " tensors (round to nearest even)"));
        ModelConfig source = in.source();
        if (source.windowHasSwitch() && source.usesSlidingWindow() && !config.windowHasSwitch() && exactTarget) {
            warnings.add("sliding window " + source.slidingWindow() + " carried as Mixtral's sliding_window");
        }
        return warnings;
    }
}
