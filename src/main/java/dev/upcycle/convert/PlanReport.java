package dev.upcycle.convert;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.ShardPlan;
import dev.upcycle.model.ConfigWriter;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.moe.MoaAccounting;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.PlannedTensor;
import dev.upcycle.plan.UpcyclePlan;
import java.util.List;
import java.util.Locale;

/** A plan as the readable table of {@code --dry-run}, as JSON, and as the summary in upcycle.json. */
public final class PlanReport {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private PlanReport() {
    }

    /** The verdict line: {@code exact}, {@code approximate (...)} or {@code not function-preserving (...)}. */
    public static String verdict(Fidelity f) {
        return switch (f.verdict()) {
            case EXACT -> "exact";
            case APPROXIMATE -> "approximate (" + String.join(" ", f.reasons())
                    + (f.expectedRelativeError().isPresent()
                    ? String.format(Locale.ROOT, " Expected relative error at step 0: about %.2g.",
                    f.expectedRelativeError().getAsDouble()) : " The error depends on the data.") + ")";
            case NOT_PRESERVING -> "not function-preserving (" + String.join(" ", f.reasons()) + ")";
        };
    }

    /**
     * The verdict in one line, for convert to print before it writes: the verdict, its main reason
     * and the options that make step 0 exact; the reasons in full are behind {@code -v}.
     */
    public static String verdictLine(Fidelity f) {
        String name = switch (f.verdict()) {
            case EXACT -> "exact";
            case APPROXIMATE -> "approximate";
            case NOT_PRESERVING -> "not function-preserving";
        };
        if (f.isExact()) {
            return "step 0 is exact";
        }
        return "step 0 is " + name + ": " + f.mainReason()
                + (f.exactWith().isEmpty() ? "" : "; exact with " + String.join(" ", f.exactWith()))
                + " (-v says why; docs/method.md, \"Exactness\")";
    }

    /** The readable plan: the summary and the tensor table. */
    public static String text(UpcyclePlan p) {
        return text(p, true, true);
    }

    /**
     * The readable plan: a summary (target, verdict, parameters, FLOPs, files), the choices and
     * warnings; the accounting of the attention-expert variants only when attention experts are
     * asked for.
     *
     * @param tensors also list every tensor with its source, slice, scale and file
     * @param reasons give the verdict's reasons in full rather than its one-line form
     */
    public static String text(UpcyclePlan p, boolean tensors, boolean reasons) {
        StringBuilder b = new StringBuilder();
        UpcycleSpec s = p.spec();
        b.append("plan: ").append(p.source().family().name()).append(" -> ").append(p.target().cliName())
                .append(" (").append(p.targetConfig().family().architecture()).append("), ").append(s.configName())
                .append('\n');
        b.append("step 0: ").append(reasons || p.fidelity().isExact() ? verdict(p.fidelity())
                : verdictLine(p.fidelity()).substring("step 0 is ".length())).append('\n');
        b.append(String.format(Locale.ROOT, "parameters: %,d total, %,d active per token%n", p.totalParameters(),
                p.activeParameters()));
        b.append(String.format(Locale.ROOT, "forward FLOPs per token: %,d (decoder layers, n_ctx %d)%n",
                MoaAccounting.forwardFlops(p.targetConfig(), nCtx(p)), nCtx(p)));
        if (p.request().moa() != null) {
            b.append(String.format(Locale.ROOT, "accounting by formula (every layer an expert layer, no biases, "
                    + "n_ctx %d):%n", nCtx(p)));
            b.append(String.format(Locale.ROOT, "  %-16s %16s %16s %20s%n", "model", "parameters", "active",
                    "FLOPs/token"));
            for (MoaAccounting.Counts c : accounting(p)) {
                b.append(String.format(Locale.ROOT, "  %-16s %,16d %,16d %,20d%n", c.model(), c.total(), c.active(),
                        c.flopsPerToken()));
            }
        }
        b.append(String.format(Locale.ROOT, "output: %,d bytes of tensors in %d file%s: %s%n", p.outputBytes(),
                p.shards().size(), p.shards().size() == 1 ? "" : "s", files(p.shards())));
        b.append("transformers: ").append(transformers(p)).append('\n');
        b.append("choices:\n");
        p.choices().forEach(c -> b.append("  - ").append(c).append('\n'));
        if (!p.warnings().isEmpty() || !p.fidelity().warnings().isEmpty()) {
            b.append("warnings:\n");
            p.fidelity().warnings().forEach(w -> b.append("  - ").append(w).append('\n'));
            p.warnings().forEach(w -> b.append("  - ").append(w).append('\n'));
        }
        if (!tensors) {
            b.append(String.format(Locale.ROOT, "(%d tensors: --tensors lists each with its source; --json gives "
                    + "the whole plan)%n", p.tensors().size()));
            return b.toString();
        }
        int nameWidth = 6;
        int shapeWidth = 5;
        for (PlannedTensor t : p.tensors()) {
            nameWidth = Math.max(nameWidth, t.name().length());
            shapeWidth = Math.max(shapeWidth, t.shape().toString().length());
        }
        String row = "%-" + nameWidth + "s  %-5s  %-" + shapeWidth + "s  %-34s  %s%n";
        b.append('\n').append(String.format(Locale.ROOT, row, "tensor", "dtype", "shape", "file", "source"));
        for (PlannedTensor t : p.tensors()) {
            b.append(String.format(Locale.ROOT, row, t.name(), t.dtype(), t.shape(), t.shard(), t.source().describe()));
        }
        return b.toString();
    }

    /** The output files with their sizes; the first and last of a long list. */
    private static String files(List<ShardPlan> shards) {
        java.util.function.Function<ShardPlan, String> one = f -> String.format(Locale.ROOT, "%s (%,d bytes)",
                f.fileName(), f.byteSize());
        if (shards.size() <= 4) {
            return String.join(", ", shards.stream().map(one).toList());
        }
        return one.apply(shards.get(0)) + ", ... " + one.apply(shards.get(shards.size() - 1));
    }

    /** Context length for the FLOP formulas: the model's, capped at 4096. */
    static long nCtx(UpcyclePlan p) {
        return Math.min(p.source().maxPositionEmbeddings(), 4096);
    }

    /**
     * Dense, FFN-only MoE and both MoA variants with this plan's expert counts
     * (docs/attention-experts.md, "Parameters, active parameters and FLOPs").
     */
    public static List<MoaAccounting.Counts> accounting(UpcyclePlan p) {
        MoaAccounting a = MoaAccounting.of(p.source());
        UpcycleSpec s = p.spec();
        int ef = s.experts();
        int kf = s.topK();
        int ea = p.request().moa() == null ? ef : p.request().moa().experts();
        int ka = p.request().moa() == null ? ea : p.request().moa().activeExperts();
        long n = nCtx(p);
        return List.of(a.dense(n), a.btx(ef, kf, n), a.bam(MoaConfig.Variant.SEPARATE, ea, ka, ef, kf, n),
                a.bam(MoaConfig.Variant.SHARED_KV, ea, ka, ef, kf, n));
    }

    /** The whole plan as JSON (--dry-run --json). */
    public static ObjectNode json(UpcyclePlan p) {
        ObjectNode o = summary(p);
        o.set("config", ConfigWriter.toJson(p.targetConfig(), true));
        ArrayNode tensors = o.putArray("tensors");
        for (PlannedTensor t : p.tensors()) {
            ObjectNode n = tensors.addObject();
            n.put("name", t.name());
            n.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape().dims()) {
                shape.add(d);
            }
            n.put("file", t.shard());
            n.put("source", t.source().describe());
            if (t.source().sourceName() != null) {
                n.put("from", t.source().sourceName());
            }
        }
        return o;
    }

    /** What upcycle.json records about the plan: no per-tensor list. */
    public static ObjectNode summary(UpcyclePlan p) {
        UpcycleSpec s = p.spec();
        ObjectNode o = F.objectNode();
        o.put("source_family", p.source().family().name());
        o.put("target", p.target().cliName());
        o.put("configuration", s.configName());
        o.put("experts", s.experts());
        o.put("top_k", s.topK());
        o.put("granularity", s.granularity());
        o.put("expert_width", p.layout().expertIntermediate());
        ArrayNode layers = o.putArray("moe_layers");
        p.moeLayers().forEach(layers::add);
        ObjectNode factors = o.putObject("scale");
        factors.put("s", p.factors().s());
        factors.put("gate", p.factors().cGate());
        factors.put("up", p.factors().cUp());
        factors.put("down", p.factors().routedDownZeroed() ? 0.0 : p.factors().cDown());
        if (p.layout().hasSharedExpert()) {
            factors.put("shared_down", p.factors().sharedDown());
        }
        o.putObject("parameters").put("total", p.totalParameters()).put("active", p.activeParameters());
        if (p.request().moa() != null) {
            o.put("attention", "moa-" + p.request().moa().variant().token().replace('_', '-'));
            o.put("attention_experts", p.request().moa().experts());
            o.put("attention_experts_per_token", p.request().moa().activeExperts());
        }
        ArrayNode acc = o.putArray("accounting");
        for (MoaAccounting.Counts c : accounting(p)) {
            ObjectNode row = acc.addObject().put("model", c.model());
            row.putObject("parameters").put("total", c.total()).put("active", c.active());
            row.put("flops_per_token", c.flopsPerToken()).put("n_ctx", nCtx(p));
        }
        o.put("output_bytes", p.outputBytes());
        ArrayNode files = o.putArray("files");
        for (ShardPlan sp : p.shards()) {
            ObjectNode f = files.addObject();
            f.put("name", sp.fileName());
            f.put("tensors", sp.tensors().size());
            f.put("bytes", sp.byteSize());
        }
        ObjectNode fid = o.putObject("step0");
        fid.put("verdict", switch (p.fidelity().verdict()) {
            case EXACT -> "exact";
            case APPROXIMATE -> "approximate";
            case NOT_PRESERVING -> "not function-preserving";
        });
        ArrayNode reasons = fid.putArray("reasons");
        p.fidelity().reasons().forEach(reasons::add);
        if (p.fidelity().expectedRelativeError().isPresent()) {
            fid.put("expected_relative_error", p.fidelity().expectedRelativeError().getAsDouble());
        } else {
            fid.putNull("expected_relative_error");
        }
        ArrayNode choices = o.putArray("choices");
        p.choices().forEach(choices::add);
        ArrayNode warnings = o.putArray("warnings");
        p.fidelity().warnings().forEach(warnings::add);
        p.warnings().forEach(warnings::add);
        ObjectNode tf = o.putObject("transformers");
        p.transformersFloor().ifPresentOrElse(f -> {
            tf.put("min_version", f.version());
            ArrayNode because = tf.putArray("reasons");
            f.reasons().forEach(because::add);
        }, () -> {
            tf.putNull("min_version");
            tf.putArray("reasons").add(NOT_LOADABLE);
        });
        return o;
    }

    private static final String NOT_LOADABLE = "the native format is not loadable by transformers";

    /**
     * Which transformers releases load the output exactly, in words: {@code loads exactly in
     * transformers >= 4.53 (Qwen2-MoE reads head_dim only from 4.53)}.
     */
    public static String transformers(UpcyclePlan p) {
        return p.transformersFloor().map(f -> "loads exactly in transformers " + f.describe()).orElse(NOT_LOADABLE);
    }
}
