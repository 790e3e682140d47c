package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.MoaConfig;
import java.util.Objects;

/**
 * What {@code --attention moa-*} asks for (docs/attention-experts.md, "The soft mixture of attention"):
 * attention experts per layer, routing, and the attention router's initialisation.
 *
 * @param variant    separate (experts own q, k, v, o) or shared_kv (one k and v per layer)
 * @param experts    E_a, attention experts per MoA layer
 * @param topK       k_a, or null for soft routing (every expert, softmax weights)
 * @param routerInit random (default: with identical experts a zero router never lets them diverge;
 *                   docs/attention-experts.md,
 *                   "One seed: copies, and why the router then learns nothing") or zero
 * @param routerStd  standard deviation of the random router (0.02, as in BAM)
 * @param sharedKvSeed where the shared k/v of a merge come from (docs/attention-experts.md,
 *                     "Two variants: separate and shared k/v"): null for the mean of
 *                   the seeds, else that seed's index
 */
public record MoaSpec(MoaConfig.Variant variant, int experts, Integer topK, RouterInit routerInit, double routerStd,
                      Integer sharedKvSeed) {

    public MoaSpec(MoaConfig.Variant variant, int experts, Integer topK, RouterInit routerInit, double routerStd) {
        this(variant, experts, topK, routerInit, routerStd, null);
    }

    public MoaSpec {
        Objects.requireNonNull(variant, "variant");
        Objects.requireNonNull(routerInit, "routerInit");
        if (experts < 1) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--attention-experts", "must be at least 1, not " + experts);
        }
        if (topK != null && (topK < 1 || topK > experts)) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--attention-top-k",
                    topK + " must be between 1 and --attention-experts " + experts);
        }
        if (topK != null && topK == experts) {
            topK = null;
        }
        if (routerInit == RouterInit.VIRTUAL_GROUP) {
            routerInit = RouterInit.RANDOM;
        }
        if (sharedKvSeed != null && variant != MoaConfig.Variant.SHARED_KV) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--shared-kv-init",
                    "applies to --attention moa-shared-kv only (moa-separate experts keep their own k and v)");
        }
        if (sharedKvSeed != null && sharedKvSeed < 0) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--shared-kv-init", "seed index " + sharedKvSeed + " is negative");
        }
    }

    /**
     * {@code mean} (null) or {@code seed:X} (X, the 0-based position of a seed among the inputs).
     *
     * @throws UpcycleException InvalidOption for anything else
     */
    public static Integer parseSharedKvInit(String s) {
        if (s.equals("mean")) {
            return null;
        }
        if (s.startsWith("seed:")) {
            try {
                return Integer.parseInt(s.substring(5));
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new UpcycleException(ErrorKind.InvalidOption, "--shared-kv-init",
                "\"" + s + "\" is not mean or seed:X (X = 0 for the first input)");
    }

    /** The option's text: {@code mean} or {@code seed:X}. */
    public String sharedKvInitText() {
        return sharedKvSeed == null ? "mean" : "seed:" + sharedKvSeed;
    }

    /** {@code moa-separate} / {@code moa-shared-kv}; null for {@code keep}. */
    public static MoaConfig.Variant parseMode(String attention) {
        return switch (attention) {
            case "keep" -> null;
            case "moa-separate" -> MoaConfig.Variant.SEPARATE;
            case "moa-shared-kv" -> MoaConfig.Variant.SHARED_KV;
            default -> throw new UpcycleException(ErrorKind.InvalidOption, "--attention",
                    "\"" + attention + "\" is not one of keep, moa-separate, moa-shared-kv"
                            + dev.upcycle.error.Suggestions.didYouMean(attention,
                                    java.util.List.of("keep", "moa-separate", "moa-shared-kv")));
        };
    }

    /** k_a: experts used per token. */
    public int activeExperts() {
        return topK == null ? experts : topK;
    }
}
