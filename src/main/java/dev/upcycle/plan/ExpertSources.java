package dev.upcycle.plan;

import java.util.List;
import java.util.Objects;

/**
 * A conversion whose experts come from named models instead of slices of one dense FFN, as a
 * mergekit-moe configuration describes it (docs/mergekit.md): every tensor that is not an expert or
 * a router comes from input 0 (the base model), routed expert i's MLP whole from input
 * {@code experts.get(i).input()}, the shared expert's from {@code shared.input()}, and the router
 * rows are given ({@link GateRows}) instead of drawn by the router options.
 *
 * @param experts one member per routed expert, in expert order
 * @param shared  the shared expert's member, or null for none
 * @param gates   the router rows
 */
public record ExpertSources(List<Member> experts, Member shared, GateRows gates) {
    public ExpertSources {
        experts = List.copyOf(experts);
        Objects.requireNonNull(gates, "gates");
        if (experts.isEmpty()) {
            throw new IllegalArgumentException("no experts");
        }
    }

    /**
     * One expert's MLP.
     *
     * @param input         the index of the input checkpoint it is read from (0: the base model)
     * @param residualScale the factor on its down projection (1: none)
     * @param noiseStd      the standard deviation of the noise added to its weights (0: none)
     * @param prompts       how many positive and negative prompts its gate row comes from (for plans)
     */
    public record Member(int input, double residualScale, double noiseStd, int positivePrompts, int negativePrompts) {
        public Member {
            if (input < 0 || !Double.isFinite(residualScale) || !(noiseStd >= 0) || !Double.isFinite(noiseStd)) {
                throw new IllegalArgumentException("input " + input + ", residual scale " + residualScale
                        + ", noise " + noiseStd);
            }
        }
    }

    /** Whether any routed expert reads another input than the base model. */
    public boolean expertsFromOtherModels() {
        return experts.stream().anyMatch(m -> m.input() != 0);
    }

    /** Every member: the routed experts, then the shared one. */
    public List<Member> members() {
        List<Member> all = new java.util.ArrayList<>(experts);
        if (shared != null) {
            all.add(shared);
        }
        return all;
    }
}
