package dev.upcycle.convert;

import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.UpcyclePlan;
import java.util.Locale;

/** The short README.md written next to the weights: base model, method, options, step-0 verdict. */
final class ModelCard {
    private ModelCard() {
    }

    static String of(UpcyclePlan p, String baseModel) {
        UpcycleSpec s = p.spec();
        StringBuilder b = new StringBuilder();
        b.append("---\nbase_model: ").append(baseModel).append("\ntags:\n- moe\n- upcycled\n---\n\n");
        b.append("# ").append(baseModel).append(" upcycled to ").append(s.configName()).append(" (")
                .append(p.target().cliName()).append(")\n\n");
        b.append("Mixture-of-Experts model made from the dense model `").append(baseModel)
                .append("` by sparse upcycling (Komatsuzaki et al. 2022; He et al., \"Upcycling Large Language Models "
                        + "into Mixture of Experts\", 2024) with `upcycle convert`. Every expert starts as a copy")
                .append(s.granularity() > 1 ? " of one of " + s.granularity() + " neuron shards" : "")
                .append(" of the dense feed-forward network; attention, norms and embeddings are copied unchanged. "
                        + "The model needs continued training before its experts specialise.\n\n");
        b.append("| setting | value |\n|---|---|\n");
        row(b, "architecture", p.targetConfig().family().architecture());
        row(b, "experts (N = E x G)", s.experts() + " = " + s.expansion() + " x " + s.granularity());
        row(b, "experts per token", Integer.toString(s.topK()));
        row(b, "expert width", Integer.toString(p.layout().expertIntermediate()));
        row(b, "MoE layers", p.moeLayers().size() == p.source().numHiddenLayers() ? "all" : p.moeLayers().toString());
        row(b, "routing", s.routing().cliName());
        row(b, "scaling", s.scaling().cliName() + String.format(Locale.ROOT, " (s = %s)", fmt(p.factors().s())));
        row(b, "router init", s.routerInit().cliName() + (s.routerInit().cliName().equals("zero") ? ""
                : ", std " + fmt(s.routerStd())));
        row(b, "shared expert", s.hasSharedExpert() ? s.sharedExpertMode().cliName() + ", width "
                + p.layout().sharedIntermediate() : "none");
        row(b, "seed", Long.toString(s.seed()));
        row(b, "parameters", String.format(Locale.ROOT, "%,d total, %,d active per token", p.totalParameters(),
                p.activeParameters()));
        row(b, "loads exactly in transformers", p.transformersFloor().map(f -> f.describe()).orElse("not loadable (native format)"));
        b.append("\nStep 0 (before training): ").append(PlanReport.verdict(p.fidelity())).append("\n\n");
        b.append("`upcycle.json` records the full option set and the SHA-256 of every input and output file.\n");
        return b.toString();
    }

    private static void row(StringBuilder b, String k, String v) {
        b.append("| ").append(k).append(" | ").append(v.replace("|", "\\|")).append(" |\n");
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : String.format(Locale.ROOT, "%.4g", v);
    }
}
