package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/**
 * Where every expert's neurons come from in one dense FFN of width {@code F}
 * (docs/method.md, "Fine-grained experts" and "Shared experts"). Expert {@code n} holds shard
 * {@code j = n mod G} of the routed neurons and belongs to virtual group {@code v = n / G}; experts
 * {@code vG .. vG+G-1} together hold every routed neuron once (Megatron's layout: {@code tensor_split}
 * into G shards, repeated E times).
 *
 * <p>With a {@link SharedExpertMode#SPLIT} shared expert, the shared expert takes the first
 * {@code F_s} dense neurons and the routed shards start after them. With
 * {@link SharedExpertMode#FULL_COPY} the shared expert is the whole dense FFN and the routed
 * shards cover all {@code F} neurons.
 *
 * @param denseIntermediate  dense FFN width {@code F}
 * @param sharedIntermediate shared expert width {@code F_s} (0 without one, {@code F} for full copy)
 * @param routedOffset       first dense neuron of the routed shards
 * @param expertIntermediate {@code F_e}: the width of one routed expert
 * @param granularity        {@code G}
 * @param experts            {@code N}
 */
public record ExpertLayout(int denseIntermediate, int sharedIntermediate, int routedOffset,
                           int expertIntermediate, int granularity, int experts) {

    public ExpertLayout {
        if (granularity < 1 || experts < 1 || experts % granularity != 0 || expertIntermediate < 1
                || routedOffset < 0 || sharedIntermediate < 0 || sharedIntermediate > denseIntermediate
                || routedOffset + (long) expertIntermediate * granularity > denseIntermediate) {
            throw new IllegalArgumentException("inconsistent layout F=" + denseIntermediate + " F_s="
                    + sharedIntermediate + " offset=" + routedOffset + " F_e=" + expertIntermediate
                    + " G=" + granularity + " N=" + experts);
        }
    }

    /**
     * The layout of {@code spec} over a dense FFN of width {@code denseIntermediate}.
     *
     * @throws UpcycleException ImpossibleCombination when {@code F mod G != 0},
     *                          {@code (F - F_s) mod G != 0} or the shared expert does not fit
     */
    public static ExpertLayout of(UpcycleSpec spec, int denseIntermediate) {
        int f = denseIntermediate;
        int g = spec.granularity();
        if (f < 1) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "intermediate_size",
                    "dense intermediate size F=" + f + " must be at least 1");
        }
        if (!spec.hasSharedExpert() || spec.sharedExpertMode() == SharedExpertMode.FULL_COPY) {
            int fs = spec.hasSharedExpert() ? f : 0;
            if (spec.hasSharedExpert() && spec.sharedExpertSize() != 0 && spec.sharedExpertSize() != f) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--shared-expert-size",
                        "with --shared-expert-mode full-copy the shared expert is the whole dense FFN, so its"
                                + " size must be omitted or equal intermediate_size F=" + f + ", not "
                                + spec.sharedExpertSize());
            }
            if (f % g != 0) {
                throw new UpcycleException(ErrorKind.ImpossibleCombination, "--granularity",
                        "dense intermediate size F=" + f + " is not divisible by granularity G=" + g,
                        "choose a granularity that divides " + f);
            }
            return new ExpertLayout(f, fs, 0, f / g, g, spec.experts());
        }
        int fs = spec.sharedExpertSize();
        if (fs >= f) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--shared-expert-size",
                    "shared expert size F_s=" + fs + " must be smaller than the dense intermediate size F=" + f
                            + " so that routed experts keep some neurons",
                    "use --shared-expert-mode full-copy to copy the whole FFN into the shared expert");
        }
        // Split shared expert (docs/method.md, "Shared experts"): the routed part F - F_s is what gets
        // sharded.
        if ((f - fs) % g != 0) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--shared-expert-size / --granularity",
                    "routed width F - F_s = " + f + " - " + fs + " = " + (f - fs)
                            + " is not divisible by granularity G=" + g);
        }
        return new ExpertLayout(f, fs, fs, (f - fs) / g, g, spec.experts());
    }

    /** Expansion rate {@code E = N / G}. */
    public int expansion() {
        return experts / granularity;
    }

    /** Shard index {@code j(n) = n mod G} (docs/method.md, "Fine-grained experts"). */
    public int shard(int expert) {
        checkExpert(expert);
        return expert % granularity;
    }

    /**
     * Virtual group {@code v(n) = n / G}, used by the router (docs/method.md, "Router initialisation").
     */
    public int group(int expert) {
        checkExpert(expert);
        return expert / granularity;
    }

    /** Expert {@code n}'s dense neuron indices {@code J_j(n)}, offset past a split shared expert. */
    public IndexRange neurons(int expert) {
        int start = routedOffset + shard(expert) * expertIntermediate;
        return new IndexRange(start, start + expertIntermediate);
    }

    /** Rows of the dense {@code gate_proj} / {@code up_proj} {@code [F, d]} (and their biases) for expert n. */
    public IndexRange gateUpRows(int expert) {
        return neurons(expert);
    }

    /** Columns of the dense {@code down_proj} {@code [d, F]} for expert n. */
    public IndexRange downColumns(int expert) {
        return neurons(expert);
    }

    /** True when the layout has a shared expert. */
    public boolean hasSharedExpert() {
        return sharedIntermediate > 0;
    }

    /** The shared expert's dense neurons {@code I_s} (rows of gate/up, columns of down); empty without one. */
    public IndexRange sharedNeurons() {
        return new IndexRange(0, sharedIntermediate);
    }

    /** Neurons the routed shards are cut from: {@code F - F_s} for a split, all {@code F} otherwise. */
    public int routedIntermediate() {
        return expertIntermediate * granularity;
    }

    /**
     * True when routed experts' down projections are zeroed (full-copy shared expert, docs/method.md,
     * "Shared experts").
     */
    public boolean routedDownZeroed() {
        return hasSharedExpert() && routedOffset == 0;
    }

    /**
     * Weights of all routed experts of one layer: {@code N * F_e * d * (3 or 2)}, which is
     * {@code E} times the dense FFN's (docs/formats.md, "Output families"; with a split shared expert,
     * E times the routed part). Router weights ({@code N * d}) are not included.
     */
    public long routedExpertParameters(int hidden, boolean gated) {
        return (long) experts * expertIntermediate * hidden * (gated ? 3 : 2);
    }

    private void checkExpert(int expert) {
        if (expert < 0 || expert >= experts) {
            throw new IndexOutOfBoundsException("expert " + expert + " of " + experts);
        }
    }
}
