package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.Objects;

/**
 * What the user asked for, independent of any model (docs/method.md, "Notation"). The hard
 * constraints that need no model ({@code G >= 1}, {@code N mod G = 0}, {@code 1 <= K <= N}) are
 * checked here, so an invalid spec cannot exist; those that need the dense width are checked by
 * {@link ExpertLayout#of(UpcycleSpec, int)}.
 *
 * @param experts           routed experts per MoE layer, {@code N = E * G} ({@code --experts})
 * @param topK              experts per token {@code K}, the paper's {@code T} ({@code --top-k})
 * @param granularity       {@code G}: how many times narrower an expert is than the dense FFN
 * @param routing           softmax-topK or topK-softmax (docs/method.md, "Routing modes")
 * @param scaling           how the output scale {@code s} is spread over the projections (5.2)
 * @param routerInit        virtual-group, random or zero (docs/method.md, "Router initialisation")
 * @param routerStd         {@code sigma} of the router draw, default 0.02 (Megatron's init std)
 * @param seed              user seed; with the tensor name it keys every random draw
 * @param sharedExperts     0, or 1 for a Qwen2-MoE shared expert with a sigmoid gate (docs/method.md,
 *                          "Shared experts")
 * @param sharedExpertSize  {@code F_s} for {@link SharedExpertMode#SPLIT}; 0 or the dense width
 *                          for {@link SharedExpertMode#FULL_COPY}; 0 without a shared expert
 * @param sharedExpertMode  split or full-copy; ignored without a shared expert
 */
public record UpcycleSpec(int experts, int topK, int granularity, RoutingMode routing, ScalingMode scaling,
                          RouterInit routerInit, double routerStd, long seed, int sharedExperts,
                          int sharedExpertSize, SharedExpertMode sharedExpertMode) {

    /**
     * Megatron's default {@code init_method_std}, used for the router (docs/method.md,
     * "Router initialisation").
     */
    public static final double DEFAULT_ROUTER_STD = 0.02;

    public UpcycleSpec {
        Objects.requireNonNull(routing, "routing");
        Objects.requireNonNull(scaling, "scaling");
        Objects.requireNonNull(routerInit, "routerInit");
        Objects.requireNonNull(sharedExpertMode, "sharedExpertMode");
        if (granularity < 1) {
            throw invalid("--granularity", "granularity G=" + granularity + " must be at least 1");
        }
        if (experts < 1) {
            throw invalid("--experts", "number of experts N=" + experts + " must be at least 1");
        }
        // docs/method.md, "Fine-grained experts": experts come in E groups of G shards; Megatron
        // asserts the same.
        if (experts % granularity != 0) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--experts / --granularity",
                    "number of experts N=" + experts + " is not a multiple of granularity G=" + granularity
                            + " (N = E x G, E copies of the dense FFN split into G shards each)");
        }
        if (topK < 1 || topK > experts) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--top-k",
                    "top-k K=" + topK + " must lie in 1.." + experts + " (the number of experts N)");
        }
        if (!Double.isFinite(routerStd) || routerStd < 0) {
            throw invalid("--router-std", "router std " + routerStd + " must be a finite number >= 0");
        }
        if (routerStd == 0 && routerInit != RouterInit.ZERO) {
            throw invalid("--router-std", "router std 0 with --router-init " + routerInit
                    + " gives an all-zero router; use --router-init zero to ask for that");
        }
        if (sharedExperts < 0 || sharedExperts > 1) {
            throw invalid("--shared-experts", "shared experts " + sharedExperts + " must be 0 or 1");
        }
        if (sharedExpertSize < 0) {
            throw invalid("--shared-expert-size", "shared expert size " + sharedExpertSize + " is negative");
        }
        if (sharedExperts == 0 && sharedExpertSize != 0) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--shared-expert-size",
                    "shared expert size " + sharedExpertSize + " given without --shared-experts 1");
        }
        if (sharedExperts == 1 && sharedExpertMode == SharedExpertMode.SPLIT && sharedExpertSize == 0) {
            throw invalid("--shared-expert-size",
                    "--shared-expert-mode split needs the shared expert's intermediate size F_s >= 1");
        }
    }

    /** A spec with the paper's defaults (softmax-topk, paper, virtual-group, std 0.02, seed 0, no shared expert); the CLI's routing default is topk-softmax. */
    public static UpcycleSpec of(int experts, int topK, int granularity) {
        return builder().experts(experts).topK(topK).granularity(granularity).build();
    }

    /** A spec with the given routing and scaling and the other CLI defaults. */
    public static UpcycleSpec of(int experts, int topK, int granularity, RoutingMode routing, ScalingMode scaling,
                                 RouterInit routerInit) {
        return builder().experts(experts).topK(topK).granularity(granularity)
                .routing(routing).scaling(scaling).routerInit(routerInit).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this spec's values. */
    public Builder toBuilder() {
        return new Builder().experts(experts).topK(topK).granularity(granularity).routing(routing)
                .scaling(scaling).routerInit(routerInit).routerStd(routerStd).seed(seed)
                .sharedExperts(sharedExperts).sharedExpertSize(sharedExpertSize)
                .sharedExpertMode(sharedExpertMode);
    }

    /** Expansion rate {@code E = N / G}: full copies of the dense FFN per layer. */
    public int expansion() {
        return experts / granularity;
    }

    /** True with a shared expert. */
    public boolean hasSharedExpert() {
        return sharedExperts == 1;
    }

    /**
     * True when a top-K set can be made of whole virtual groups ({@code K mod G = 0}; docs/method.md,
     * "Conditions, and why").
     */
    public boolean selectsWholeGroups() {
        return topK % granularity == 0;
    }

    /** The paper's configuration name, e.g. {@code E8G8T8}. */
    public String configName() {
        return "E" + expansion() + "G" + granularity + "T" + topK;
    }

    private static UpcycleException invalid(String option, String why) {
        return new UpcycleException(ErrorKind.InvalidOption, option, why);
    }

    /**
     * Builds a spec; unset values take the CLI defaults. Either {@link #experts(int)} ({@code N})
     * or {@link #expansion(int)} ({@code E}, giving {@code N = E * G}) must be set.
     */
    public static final class Builder {
        private Integer experts;
        private Integer expansion;
        private int topK = 1;
        private int granularity = 1;
        private RoutingMode routing = RoutingMode.SOFTMAX_TOPK;
        private ScalingMode scaling = ScalingMode.PAPER;
        private RouterInit routerInit = RouterInit.VIRTUAL_GROUP;
        private double routerStd = DEFAULT_ROUTER_STD;
        private long seed;
        private int sharedExperts;
        private int sharedExpertSize;
        private SharedExpertMode sharedExpertMode = SharedExpertMode.SPLIT;

        private Builder() {
        }

        public Builder experts(int n) {
            this.experts = n;
            return this;
        }

        public Builder expansion(int e) {
            this.expansion = e;
            return this;
        }

        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        public Builder granularity(int g) {
            this.granularity = g;
            return this;
        }

        public Builder routing(RoutingMode r) {
            this.routing = r;
            return this;
        }

        public Builder scaling(ScalingMode s) {
            this.scaling = s;
            return this;
        }

        public Builder routerInit(RouterInit r) {
            this.routerInit = r;
            return this;
        }

        public Builder routerStd(double std) {
            this.routerStd = std;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public Builder sharedExperts(int count) {
            this.sharedExperts = count;
            return this;
        }

        public Builder sharedExpertSize(int size) {
            this.sharedExpertSize = size;
            return this;
        }

        public Builder sharedExpertMode(SharedExpertMode mode) {
            this.sharedExpertMode = mode;
            return this;
        }

        /** A shared expert in {@code mode}, of width {@code size} (0 for full-copy). */
        public Builder sharedExpert(SharedExpertMode mode, int size) {
            return sharedExperts(1).sharedExpertMode(mode).sharedExpertSize(size);
        }

        /** @throws UpcycleException when the values break a constraint of docs/method.md, "Notation" */
        public UpcycleSpec build() {
            int n;
            if (experts == null && expansion == null) {
                throw new UpcycleException(ErrorKind.InvalidOption, "--experts",
                        "the number of experts is required");
            } else if (experts == null) {
                if (expansion < 1) {
                    throw new UpcycleException(ErrorKind.InvalidOption, "--expansion",
                            "expansion rate E=" + expansion + " must be at least 1");
                }
                n = Math.multiplyExact(expansion, granularity);
            } else {
                n = experts;
                if (expansion != null && (long) expansion * granularity != n) {
                    throw new UpcycleException(ErrorKind.ImpossibleCombination, "--experts / --expansion",
                            "N=" + n + " experts is not E x G = " + expansion + " x " + granularity);
                }
            }
            return new UpcycleSpec(n, topK, granularity, routing, scaling, routerInit, routerStd, seed,
                    sharedExperts, sharedExpertSize, sharedExpertMode);
        }
    }
}
