package dev.upcycle.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.Provenance;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.MoeConfig;
import dev.upcycle.model.TensorRole;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.LayerSelection;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.Planner;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.plan.target.MoeTarget;
import dev.upcycle.plan.target.MoeTargets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The plans a converted checkpoint may have been made by. With {@code upcycle.json}, the one its
 * recorded options give. Without it, the planner is run with the options the MoE config implies
 * (experts, top-k, routing from {@code norm_topk_prob}, granularity and shared expert from the
 * widths, the sparse layers, the target family, MoA and noise from a native {@code upcycle} block,
 * the router's kind from its values) and every scaling mode, and with the dtype kept or set to the
 * output's; plans that write the same tensors are kept once, with the best verdict.
 */
final class PlanCandidates {
    /** Where the plans came from ({@code upcycle.json} or {@code config.json}), and the plans, best first. */
    record Found(String basis, List<UpcyclePlan> plans) {
    }

    private PlanCandidates() {
    }

    /** The recorded plan: its options from {@code upcycle.json}, the seeds as given. */
    static Found recorded(Provenance p, String where, List<ModelConfig> seeds, List<Map<String, TensorHeader>> headers,
                          boolean identicalSeeds, FamilyRegistry registry) {
        UpcycleRequest request = RecordedRequest.of(p.options(), where);
        UpcyclePlan plan = new Planner(registry).plan(seeds, headers, request, identicalSeeds);
        return new Found(Provenance.FILE_NAME, List.of(plan));
    }

    /** How many seeds {@code upcycle.json} lists (inputs of seed N are prefixed {@code seedN/}). */
    static int seeds(Provenance p) {
        int max = 0;
        for (FileDigest d : p.inputs()) {
            if (d.path().startsWith("seed")) {
                int slash = d.path().indexOf('/');
                try {
                    max = Math.max(max, Integer.parseInt(d.path().substring(4, slash)));
                } catch (RuntimeException e) {
                    // a file named seed-something of seed 0
                }
            }
        }
        return max + 1;
    }

    /** Whether every seed's weight files have the digests of seed 0's (same names, sizes and SHA-256). */
    static boolean identicalSeeds(Provenance p, int seeds) {
        Map<Integer, List<String>> bySeed = new LinkedHashMap<>();
        for (FileDigest d : p.inputs()) {
            if (!d.path().endsWith(".safetensors")) {
                continue;
            }
            int seed = 0;
            String name = d.path();
            if (name.startsWith("seed") && name.indexOf('/') > 4) {
                try {
                    seed = Integer.parseInt(name.substring(4, name.indexOf('/')));
                    name = name.substring(name.indexOf('/') + 1);
                } catch (NumberFormatException e) {
                    seed = 0;
                }
            }
            bySeed.computeIfAbsent(seed, s -> new ArrayList<>()).add(name + " " + d.size() + " " + d.sha256());
        }
        List<String> first = bySeed.get(0);
        for (int i = 1; i < seeds; i++) {
            if (first == null || !Objects.equals(sorted(bySeed.get(i)), sorted(first))) {
                return false;
            }
        }
        return true;
    }

    private static List<String> sorted(List<String> l) {
        return l == null ? null : l.stream().sorted().toList();
    }

    /**
     * The plans of one dense source that write exactly the output's tensors (names, shapes,
     * dtypes), derived from the output's config.
     */
    static Found derived(ModelConfig out, Checkpoint output, ModelConfig dense, Map<String, TensorHeader> headers,
                         FamilyRegistry registry) {
        Map<String, TensorHeader> written = new LinkedHashMap<>();
        for (TensorRef r : output.tensors().values()) {
            written.put(r.name(), r.header());
        }
        MoeTarget target = targetOf(out);
        List<UpcycleRequest> requests = requests(out, output, dense, target, written);
        Planner planner = new Planner(registry);
        Map<List<?>, UpcyclePlan> distinct = new LinkedHashMap<>();
        for (UpcycleRequest r : requests) {
            UpcyclePlan plan;
            try {
                plan = planner.plan(dense, headers, r);
            } catch (UpcycleException | IllegalArgumentException e) {
                continue; // options the planner refuses cannot have made the output
            }
            if (WeightCheck.structuralDifference(plan, written) != null) {
                continue;
            }
            List<?> key = plan.tensors().stream().map(t -> List.of(t.name(), t.dtype(), t.source())).toList();
            UpcyclePlan seen = distinct.get(key);
            if (seen == null || plan.fidelity().verdict().compareTo(seen.fidelity().verdict()) < 0) {
                distinct.put(key, plan);
            }
        }
        return new Found("config.json of both models (no " + Provenance.FILE_NAME + ")",
                List.copyOf(distinct.values()));
    }

    private static MoeTarget targetOf(ModelConfig out) {
        String family = out.family().name();
        for (MoeTarget t : MoeTargets.all()) {
            if (t.familyName().equals(family)) {
                return t;
            }
        }
        if (MoeTargets.NATIVE.familyName().equals(family)) {
            return MoeTargets.NATIVE;
        }
        throw new UpcycleException(ErrorKind.ImpossibleCombination, "config.json",
                "a " + family + " model is not an output of convert, so no plan can be derived for it");
    }

    private static List<UpcycleRequest> requests(ModelConfig out, Checkpoint output, ModelConfig dense,
                                                 MoeTarget target, Map<String, TensorHeader> written) {
        MoeConfig moe = out.moe();
        if (moe == null) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "config.json",
                    "the model has no MoE part, so no conversion plan can be derived for it");
        }
        JsonNode block = out.raw().path("upcycle");
        List<Integer> sparse = out.sparseLayers();
        LayerSelection layers = sparse.size() == out.numHiddenLayers() ? LayerSelection.ALL
                : LayerSelection.parse(sparse.stream().map(String::valueOf).collect(Collectors.joining(",")));
        RoutingMode routing = moe.normTopkProb() ? RoutingMode.TOPK_SOFTMAX : RoutingMode.SOFTMAX_TOPK;
        int f = dense.intermediateSize();
        int m = moe.expertWidth();
        List<UpcycleSpec.Builder> shapes = new ArrayList<>();
        if (!moe.hasSharedExpert() || moe.sharedExpertWidth() == 1) {
            shapes.add(granular(f, m).sharedExperts(0));
        }
        if (moe.hasSharedExpert()) {
            int fs = moe.sharedExpertWidth();
            if (fs == f) {
                shapes.add(granular(f, m).sharedExperts(1).sharedExpertMode(SharedExpertMode.FULL_COPY));
            } else if (fs < f) {
                shapes.add(granular(f - fs, m).sharedExperts(1).sharedExpertMode(SharedExpertMode.SPLIT)
                        .sharedExpertSize(fs));
            }
        }
        double noise = block.path("expert_noise_std").asDouble(0);
        long seed = block.path("router_init").path("rng_seed").asLong(0);
        MoaSpec moa = moa(out.moa(), block);
        BlockSpec blocks = out.moa() == null || out.blockLayout() == dense.blockLayout() ? BlockSpec.SEED
                : new BlockSpec(out.moa().blockLayout(), out.moa().parallelNumNorms(), true);
        List<DType> dtypes = new ArrayList<>();
        dtypes.add(null);
        written.values().stream().map(TensorHeader::dtype).distinct().filter(DType::isWritable).forEach(dtypes::add);
        List<UpcycleRequest> out2 = new ArrayList<>();
        for (UpcycleSpec.Builder shape : shapes) {
            for (ScalingMode scaling : ScalingMode.values()) {
                UpcycleSpec spec;
                try {
                    shape.experts(moe.numExperts()).topK(moe.numExpertsPerTok()).routing(routing)
                            .scaling(scaling).seed(seed);
                    int g = shape.build().granularity();
                    spec = shape.routerInit(routerInit(out, output, sparse, g)).build();
                } catch (UpcycleException | IllegalArgumentException e) {
                    continue;
                }
                for (DType d : dtypes) {
                    out2.add(new UpcycleRequest(spec, target.cliName(), layers, d, UpcycleRequest.DEFAULT_SHARD_SIZE,
                            true, moe.routerAuxLossCoef(), moa, blocks, noise));
                }
            }
        }
        return out2;
    }

    /** Granularity {@code routed / expertWidth}, or a builder the planner refuses when it does not divide. */
    private static UpcycleSpec.Builder granular(int routed, int expertWidth) {
        return UpcycleSpec.builder().granularity(routed % expertWidth == 0 ? Math.max(1, routed / expertWidth) : 1);
    }

    /**
     * The router's kind, read from the first sparse layer's router: all zeros, or equal neighbouring
     * rows (a virtual-group router; with G = 1 every router is one), or independent rows.
     */
    private static RouterInit routerInit(ModelConfig out, Checkpoint output, List<Integer> sparse, int granularity) {
        if (sparse.isEmpty() || !out.family().has(TensorRole.ROUTER)) {
            return RouterInit.VIRTUAL_GROUP;
        }
        String name = out.family().tensorName(TensorRole.ROUTER, sparse.get(0), -1);
        if (!output.contains(name)) {
            return RouterInit.VIRTUAL_GROUP;
        }
        TensorRef ref = output.tensor(name);
        float[] w = ref.file().readFloats(name);
        boolean zero = true;
        for (float v : w) {
            zero &= v == 0;
        }
        if (zero) {
            return RouterInit.ZERO;
        }
        if (granularity == 1) {
            return RouterInit.VIRTUAL_GROUP;
        }
        int rows = (int) ref.header().shape().dim(0);
        int cols = w.length / Math.max(rows, 1);
        return rows > 1 && java.util.Arrays.equals(w, 0, cols, w, cols, 2 * cols) ? RouterInit.VIRTUAL_GROUP
                : RouterInit.RANDOM;
    }

    private static MoaSpec moa(MoaConfig c, JsonNode block) {
        if (c == null || c.moaLayers() != null && c.moaLayers().isEmpty()) {
            return null;
        }
        String kind = block.path("attention_router_init").path("kind").asText("normal");
        Integer kv = MoaSpec.parseSharedKvInit(block.path("shared_kv_init").asText("mean"));
        return new MoaSpec(c.variant(), c.numAttentionExperts(), c.soft() ? null : c.attentionExpertsPerTok(),
                kind.equals("zeros") ? RouterInit.ZERO : RouterInit.RANDOM,
                block.path("attention_router_init").path("std").asDouble(UpcycleSpec.DEFAULT_ROUTER_STD), kv);
    }
}
