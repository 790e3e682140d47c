package dev.upcycle.plan;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The output architecture of a mergekit-moe configuration, chosen as mergekit chooses it
 * (docs/mergekit.md): the architectures whose name starts with {@code architecture} (all when it is
 * absent), in mergekit's order (Mixtral, DeepSeek MoE, Qwen MoE, Qwen3 MoE); of those that can take
 * the models and shared experts, Mixtral when it is one, else the first.
 */
public final class MergekitArchitecture {
    /** mergekit's output architectures, in its order, with the target this project writes (null: none). */
    private record Output(String name, String target) {
    }

    private static final List<Output> OUTPUTS = List.of(new Output("Mixtral", "mixtral"),
            new Output("DeepSeek MoE", null), new Output("Qwen MoE", "qwen2-moe"), new Output("Qwen3 MoE", "qwen3-moe"));

    /**
     * What the choice depends on.
     *
     * @param architecture        the {@code architecture} key, or null
     * @param sharedExperts       how many shared experts the file lists
     * @param sharedPrompts       whether the first shared expert has positive prompts
     * @param sharedNegative      whether the first shared expert has negative prompts
     * @param randomGates         whether {@code gate_mode} is {@code random}
     * @param modelTypes          the {@code model_type} of the base model, every expert and every shared expert
     */
    public record Inputs(String architecture, int sharedExperts, boolean sharedPrompts, boolean sharedNegative,
                         boolean randomGates, List<String> modelTypes) {
    }

    private MergekitArchitecture() {
    }

    /**
     * The target's CLI name.
     *
     * @throws UpcycleException ImpossibleCombination naming the architecture and why none fits
     */
    public static String select(Inputs in) {
        List<Output> named = OUTPUTS.stream().filter(o -> in.architecture() == null
                || o.name().toLowerCase(Locale.ROOT).startsWith(in.architecture().toLowerCase(Locale.ROOT))).toList();
        String all = OUTPUTS.stream().map(Output::name).collect(Collectors.joining(", "));
        if (named.isEmpty()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "architecture " + in.architecture(),
                    "names no mergekit-moe output architecture; they are " + all);
        }
        List<Output> fit = new ArrayList<>();
        List<String> why = new ArrayList<>();
        for (Output o : named) {
            String no = refusal(o, in);
            if (no == null) {
                fit.add(o);
            } else {
                why.add(o.name() + ": " + no);
            }
        }
        if (fit.isEmpty()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, in.architecture() == null ? "architecture"
                    : "architecture " + in.architecture(), "no output architecture takes these models: "
                    + String.join("; ", why));
        }
        Output chosen = fit.stream().filter(o -> o.name().equals("Mixtral")).findFirst().orElse(fit.get(0));
        if (chosen.target() == null) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "architecture",
                    "mergekit would write " + chosen.name() + " here, which upcycle does not write",
                    "set architecture: qwen and give the shared expert prompts (Qwen2-MoE), or drop shared_experts");
        }
        return chosen.target();
    }

    /** Why {@code o} cannot take the configuration (mergekit's own conditions), or null. */
    private static String refusal(Output o, Inputs in) {
        Set<String> types = Set.copyOf(in.modelTypes());
        String type = in.modelTypes().get(0);
        switch (o.name()) {
            case "Mixtral" -> {
                if (in.sharedExperts() > 0) {
                    return "no shared experts";
                }
                return sameOf(types, type, Set.of("llama", "mistral"));
            }
            case "DeepSeek MoE" -> {
                if (in.sharedExperts() > 1) {
                    return "at most one shared expert";
                }
                if (in.sharedExperts() == 1 && (in.sharedPrompts() || in.sharedNegative())) {
                    return "a shared expert without prompts (no gate)";
                }
                return sameOf(types, type, Set.of("llama", "mistral"));
            }
            case "Qwen MoE" -> {
                if (in.sharedExperts() != 1) {
                    return "exactly one shared expert";
                }
                if (!in.randomGates() && !in.sharedPrompts()) {
                    return "prompts for the shared expert's gate";
                }
                return sameOf(types, type, Set.of("llama", "mistral", "qwen2"));
            }
            default -> {
                if (in.sharedExperts() > 0) {
                    return "no shared experts";
                }
                return types.equals(Set.of("qwen3")) ? null : "qwen3 models only";
            }
        }
    }

    private static String sameOf(Set<String> types, String type, Set<String> allowed) {
        if (types.size() != 1) {
            return "models of one architecture (found " + String.join(", ", new java.util.TreeSet<>(types)) + ")";
        }
        return allowed.contains(type) ? null : String.join(" or ", new java.util.TreeSet<>(allowed)) + " models";
    }
}
