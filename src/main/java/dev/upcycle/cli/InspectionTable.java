package dev.upcycle.cli;

import dev.upcycle.io.DType;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.MoeConfig;
import dev.upcycle.verify.Inspection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The human-readable {@code inspect} report: one aligned "label  value" line per fact. */
final class InspectionTable {
    private InspectionTable() {
    }

    static String of(Inspection r) {
        StringBuilder b = new StringBuilder();
        row(b, "checkpoint", r.path().toString());
        ModelConfig c = r.config();
        if (c == null) {
            row(b, "family", "unknown (no config.json next to the weights)");
        } else {
            row(b, "family", c.family().name() + " (" + c.architectures().get(0) + ")");
            row(b, "layers", String.valueOf(c.numHiddenLayers()));
            row(b, "hidden", c.hiddenSize() + ", intermediate " + c.intermediateSize() + ", vocab " + c.vocabSize());
            row(b, "attention", c.numAttentionHeads() + " heads, " + c.numKeyValueHeads() + " kv heads, head_dim "
                    + c.headDim() + (c.attentionBias() ? ", biased" : "")
                    + (c.slidingWindow() != null ? ", sliding window " + c.slidingWindow() : ""));
            row(b, "rope", c.rope().type() + ", theta " + fmt(c.rope().theta()));
            row(b, "embeddings", c.tieWordEmbeddings() ? "tied to lm_head" : "separate lm_head");
            MoeConfig m = c.moe();
            if (m != null) {
                row(b, "moe", m.numExperts() + " experts, top-" + m.numExpertsPerTok() + ", expert width "
                        + m.expertWidth()
                        + (m.sharedExpertWidth() != null && m.sharedExpertWidth() > 0
                                ? ", shared expert " + m.sharedExpertWidth() : "")
                        + ", norm_topk_prob " + m.normTopkProb());
                row(b, "sparse layers", ranges(c.sparseLayers()) + " of " + c.numHiddenLayers());
            }
            MoaConfig a = c.moa();
            if (a != null) {
                List<Integer> moaLayers = c.moaLayers();
                if (!moaLayers.isEmpty()) {
                    row(b, "attn experts", a.numAttentionExperts() + " per layer (" + a.variant().token() + "), "
                            + (a.soft() ? "soft routing" : "top-" + a.activeExperts() + " renormalised") + ", layers "
                            + ranges(moaLayers) + " of " + c.numHiddenLayers());
                }
                row(b, "blocks", a.blockLayout().token() + (a.blockLayout() == MoaConfig.BlockLayout.PARALLEL
                        ? ", " + a.parallelNumNorms() + (a.parallelNumNorms() == 1 ? " norm" : " norms") : ""));
            }
        }
        row(b, "dtypes", dtypes(r.dtypes()));
        row(b, "tensors", r.tensorCount() + " (" + bytes(r.tensorBytes()) + ")");
        row(b, "parameters", String.format(Locale.ROOT, "%,d total, %,d active per token", r.parameters(), r.active()));
        for (int i = 0; i < r.files().size(); i++) {
            Inspection.FileInfo f = r.files().get(i);
            row(b, i == 0 ? (r.sharded() ? "shards" : "file") : "",
                    f.name() + "  " + bytes(f.size()) + ", " + f.tensors() + " tensors");
        }
        if (r.problems().isEmpty()) {
            row(b, "problems", "none");
        } else {
            for (int i = 0; i < r.problems().size(); i++) {
                Finding f = r.problems().get(i);
                row(b, i == 0 ? "problems" : "", f.severity().name().toLowerCase(Locale.ROOT) + " " + f.kind()
                        + (f.tensor() != null ? " " + f.tensor() : "") + ": " + f.message());
            }
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String label, String value) {
        b.append(String.format(Locale.ROOT, "%-14s %s%n", label, value));
    }

    private static String dtypes(Map<DType, Long> d) {
        long total = d.values().stream().mapToLong(Long::longValue).sum();
        return d.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .map(e -> e.getKey() + (d.size() > 1 && total > 0
                        ? String.format(Locale.ROOT, " (%.1f%%)", 100.0 * e.getValue() / total) : ""))
                .collect(Collectors.joining(", "));
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    /** 0,1,2,5,7,8 as "0-2,5,7-8". */
    static String ranges(List<Integer> xs) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < xs.size(); ) {
            int j = i;
            while (j + 1 < xs.size() && xs.get(j + 1) == xs.get(j) + 1) {
                j++;
            }
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(xs.get(i));
            if (j > i) {
                b.append('-').append(xs.get(j));
            }
            i = j + 1;
        }
        return b.length() == 0 ? "none" : b.toString();
    }
}
