package dev.upcycle.plan.target;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.Family;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** The output families {@code upcycle convert} writes, in the order {@code auto} tries them. */
public final class MoeTargets {
    public static final String AUTO = "auto";
    /**
     * Mixtral first (the most widely loadable, no extra tensors), then Qwen3-MoE (no shared
     * expert to fill), then Qwen2-MoE.
     */
    static final List<MoeTarget> ALL = List.of(new MixtralTarget(), new QwenMoeTarget(true), new QwenMoeTarget(false));
    /**
     * The native MoA format (docs/attention-experts.md, "The native checkpoint format"): never chosen
     * by auto for FFN-only requests, always for MoA.
     */
    public static final MoeTarget NATIVE = new NativeTarget();

    private MoeTargets() {
    }

    /** Every target, in {@code auto}'s order of preference. */
    public static List<MoeTarget> all() {
        return ALL;
    }

    /**
     * Every target in the order {@code auto} tries them for {@code source}: its natural MoE family
     * first, then the others in {@link #all()}'s order.
     */
    public static List<MoeTarget> forSource(Family source) {
        List<MoeTarget> out = new ArrayList<>(ALL.stream().filter(t -> t.isNaturalFor(source)).toList());
        ALL.stream().filter(t -> !t.isNaturalFor(source)).forEach(out::add);
        return out;
    }

    /** The target named {@code name} ({@code mixtral}, {@code qwen2-moe}, {@code qwen3-moe}). */
    public static MoeTarget byName(String name) {
        String n = name == null ? "" : name.strip().toLowerCase(Locale.ROOT);
        for (MoeTarget t : ALL) {
            if (t.cliName().equals(n)) {
                return t;
            }
        }
        if (n.equals(NATIVE.cliName())) {
            return NATIVE;
        }
        throw new UpcycleException(ErrorKind.InvalidOption, "--target", "\"" + name + "\" is not a target; allowed: "
                + AUTO + ", " + ALL.stream().map(MoeTarget::cliName).collect(Collectors.joining(", ")) + ", native"
                + dev.upcycle.error.Suggestions.didYouMean(n, java.util.stream.Stream.concat(
                        ALL.stream().map(MoeTarget::cliName), java.util.stream.Stream.of(AUTO, NATIVE.cliName())).toList()));
    }
}
