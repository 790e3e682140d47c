package dev.upcycle.plan;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.FfnActivation;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.Scaling;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTargets;
import java.util.List;
import java.util.Map;

/**
 * Step 1 of planning: the request as the options were typed becomes the request the seeds allow.
 * The defaults that depend on the number of seeds are filled in, every combination the seeds cannot
 * take is refused (before any target is tried), and a request that only the native format can hold
 * is pointed at it.
 */
public final class RequestNormaliser {

    /**
     * The options whose default depends on the number of seeds, each with its value (typed, or the
     * single-seed default) and whether it was typed.
     */
    public record Typed(int experts, boolean expertsTyped, int topK, boolean topKTyped, RouterInit routerInit,
                        boolean routerInitTyped, Integer attentionExperts) {
    }

    /** Those options once the number of seeds is known. */
    public record SeedDefaults(int experts, int topK, RouterInit routerInit, int attentionExperts) {
    }

    private RequestNormaliser() {
    }

    /**
     * A merge makes one FFN expert per seed and its routers start random (docs/attention-experts.md,
     * "Several seeds: BTX and BAM merges"), unless the user typed otherwise.
     */
    public static SeedDefaults seedDefaults(int seeds, Typed t) {
        int n = seeds > 1 && !t.expertsTyped() ? seeds : t.experts();
        RouterInit init = seeds > 1 && !t.routerInitTyped() ? RouterInit.RANDOM : t.routerInit();
        int topK = n != t.experts() && !t.topKTyped() ? Math.min(t.topK(), n) : t.topK();
        int attention = t.attentionExperts() != null ? t.attentionExperts() : seeds > 1 ? seeds : n;
        return new SeedDefaults(n, topK, init, attention);
    }

    /**
     * The request checked against the seeds, with the target it implies.
     *
     * @throws UpcycleException ImpossibleCombination, UnsupportedArchitecture, InvalidOption
     */
    static NormalisedRequest normalise(List<ModelConfig> sources, List<Map<String, TensorHeader>> tensors,
                                       UpcycleRequest request, boolean identicalSeeds) {
        if (sources.isEmpty() || sources.size() != tensors.size()) {
            throw new IllegalArgumentException(sources.size() + " configs, " + tensors.size() + " tensor maps");
        }
        SeedCheck.requireSameArchitecture(sources, tensors);
        ModelConfig source = sources.get(0);
        int seeds = sources.size();
        if (request.sources() != null) {
            requireComposable(request, seeds);
        } else if (seeds > 1) {
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
            if (!isAuto(request) && !MoeTargets.byName(t).attentionExperts()) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--target " + t,
                        "attention experts need --target native (or auto)");
            }
            request = request.withTarget(MoeTargets.NATIVE.cliName());
        }
        if (!source.sparseLayers().isEmpty() || !source.moaLayers().isEmpty()) {
            throw new UpcycleException(ErrorKind.UnsupportedArchitecture, "config.json", "the input is already an MoE model ("
                    + source.family().name() + "); convert upcycles dense llama, mistral, qwen2 and qwen3 models "
                    + "(and dense native models, e.g. parallel-block seeds)");
        }
        BlockSpec.Resolved blocks = request.block().resolve(source);
        if (blocks.parallel() && isAuto(request)) {
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
        return new NormalisedRequest(request, source, tensors, blocks, seeds > 1 && identicalSeeds, activation,
                layout, layers, Scaling.factors(request.spec(), activation));
    }

    /**
     * Experts named one by one (docs/mergekit.md): one member per routed expert, each naming an
     * input; a shared member exactly when the spec has a shared expert; one attention expert per
     * routed expert; slices (granularity) and scaling only of the base model's MLP.
     */
    private static void requireComposable(UpcycleRequest request, int inputs) {
        ExpertSources s = request.sources();
        UpcycleSpec spec = request.spec();
        boolean upcycled = spec.granularity() != 1 || spec.scaling() != ScalingMode.NONE;
        if (s.experts().size() != spec.experts() || (s.shared() != null) != spec.hasSharedExpert()
                || (upcycled && (s.shared() != null || s.members().stream().anyMatch(m -> m.input() != 0)))
                || (request.moa() != null && request.moa().experts() != spec.experts())) {
            throw new IllegalArgumentException(s.experts().size() + " expert sources for " + spec.experts()
                    + " experts, shared " + (s.shared() != null) + "/" + spec.hasSharedExpert() + ", granularity "
                    + spec.granularity() + ", scaling " + spec.scaling() + ", attention experts "
                    + (request.moa() == null ? 0 : request.moa().experts()));
        }
        for (ExpertSources.Member m : s.members()) {
            if (m.input() >= inputs) {
                throw new IllegalArgumentException("expert source " + m.input() + " of " + inputs + " inputs");
            }
        }
    }

    static boolean isAuto(UpcycleRequest request) {
        return request.target().strip().equalsIgnoreCase(MoeTargets.AUTO);
    }
}
