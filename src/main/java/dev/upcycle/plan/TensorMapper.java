package dev.upcycle.plan;

import dev.upcycle.io.DType;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.Family;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorId;
import dev.upcycle.model.TensorRole;
import dev.upcycle.moe.ExpertLayout;
import dev.upcycle.moe.IndexRange;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.ScaleFactors;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTarget;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Step 3 of planning: every tensor the target family expects, by its role, gets its source in the
 * seeds (a copy, a slice with its scale, a mean over seeds, or a synthesised router or zeros). What
 * the source holds and the target has no place for is reported, since dropping it changes the
 * function.
 */
final class TensorMapper {
    private static final String INV_FREQ = ".rotary_emb.inv_freq";

    /**
     * The mapped tensors (no shard assigned yet) and the source tensors the target cannot hold, as
     * sentences.
     */
    record Mapping(List<PlannedTensor> tensors, List<String> dropped) {
    }

    private final NormalisedRequest in;
    private final MoeTarget target;
    private final ModelConfig config;
    private final Map<String, TensorHeader> tensors;
    private final ExpertLayout layout;
    private final ScaleFactors factors;

    TensorMapper(NormalisedRequest in, MoeTarget target, ModelConfig config) {
        this.in = in;
        this.target = target;
        this.config = config;
        this.tensors = in.tensors();
        this.layout = in.layout();
        this.factors = in.factors();
    }

    Mapping map(Family family) {
        UpcycleRequest request = in.request();
        Family src = in.source().family();
        DType modelDtype = modelDtype();
        Set<String> used = new HashSet<>();
        List<PlannedTensor> planned = new ArrayList<>();
        for (ExpectedTensor e : family.expectedTensors(config)) {
            TensorSource s = sourceOf(e, src, used);
            DType dtype = request.dtype() != null ? request.dtype()
                    : s.sourceName() != null ? writable(tensors.get(s.sourceName()).dtype()) : modelDtype;
            planned.add(new PlannedTensor(e.name(), e.role(), e.layer(), e.expert(), dtype, e.shape(), s, null));
        }
        return new Mapping(planned, dropped(used));
    }

    private TensorSource sourceOf(ExpectedTensor e, Family src, Set<String> used) {
        int layer = e.layer();
        UpcycleSpec spec = in.spec();
        MoaSpec moa = in.request().moa();
        int n = in.seeds();
        TensorSource s = in.request().sources() != null ? composed(e, src) : switch (e.role()) {
            // shared_kv_init seed:X takes the shared k/v from seed X instead of the mean; the k norm
            // belongs to the keys, so it comes from the same place.
            case ATTN_K, ATTN_V, ATTN_K_BIAS, ATTN_V_BIAS, ATTN_K_NORM -> moa != null && moa.sharedKvSeed() != null
                    && config.isMoaLayer(layer) ? seed(moa.sharedKvSeed(), single(e, src)) : averaged(e, src);
            case ATTN_ROUTER -> new TensorSource.Router(moa.routerInit(), moa.routerStd(), spec.seed(),
                    moa.experts(), 1, layer);
            case ATTN_EXPERT_Q, ATTN_EXPERT_K, ATTN_EXPERT_V, ATTN_EXPERT_O, ATTN_EXPERT_Q_BIAS,
                    ATTN_EXPERT_K_BIAS, ATTN_EXPERT_V_BIAS, ATTN_EXPERT_O_BIAS, ATTN_EXPERT_Q_NORM,
                    ATTN_EXPERT_K_NORM ->
                    // A merge: attention expert X is a copy of seed X's attention, q/k norms included.
                    seed(e.expert() / (moa.experts() / n), copyOrZeros(src, e.role().denseAttention(), layer));
            case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> n == 1 ? sliceExpert(e, src)
                    // FFN expert X of a merge is seed X's whole MLP.
                    : seed(e.expert() / (spec.experts() / n), new TensorSource.Copy(src.tensorName(
                            e.role() == TensorRole.EXPERT_GATE ? TensorRole.MLP_GATE
                                    : e.role() == TensorRole.EXPERT_UP ? TensorRole.MLP_UP : TensorRole.MLP_DOWN,
                            layer, -1)));
            default -> averaged(e, src);
        };
        double noise = in.request().expertNoiseStd();
        // Noise goes on projections only: biases and q/k norm gains stay exact copies.
        if (noise > 0 && (e.role().isAttentionExpert() || e.role().isRoutedExpert()) && !e.role().isBias()
                && !e.role().isQkNorm() && s.sourceName() != null) {
            s = new TensorSource.Noisy(s, noise, spec.seed());
        }
        if (s.sourceName() != null) {
            if (!tensors.containsKey(s.sourceName())) {
                throw new IllegalStateException("plan reads " + s.sourceName() + ", which the source lacks");
            }
            used.add(s.sourceName());
        }
        return s;
    }

    /**
     * Experts named one by one (docs/mergekit.md): each expert's whole MLP from its own input, with
     * its down-projection scale and noise; given router rows; attention expert i a copy of expert
     * i's input's attention; everything else from input 0, the base model.
     */
    private TensorSource composed(ExpectedTensor e, Family src) {
        ExpertSources sources = in.request().sources();
        int layer = e.layer();
        int hidden = in.source().hiddenSize();
        GateRows gates = sources.gates();
        int routed = sources.experts().size();
        MoaSpec moa = in.request().moa();
        UpcycleSpec spec = in.spec();
        boolean upcycled = spec.granularity() > 1 || spec.scaling() != ScalingMode.NONE;
        return switch (e.role()) {
            // granularity and scaling apply only when every expert is the base model's MLP (checked
            // when the file is read): the experts are then slices and scales of it, as convert's.
            case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> upcycled
                    ? upcycledMember(sources.experts().get(e.expert()), e, src)
                    : member(sources.experts().get(e.expert()), e.role(), src, layer);
            case ATTN_K, ATTN_V, ATTN_K_BIAS, ATTN_V_BIAS, ATTN_K_NORM -> moa != null && config.isMoaLayer(layer)
                    ? (moa.sharedKvSeed() != null ? seed(moa.sharedKvSeed(), single(e, src)) : averaged(e, src))
                    : single(e, src);
            case ATTN_ROUTER -> new TensorSource.Router(moa.routerInit(), moa.routerStd(), spec.seed(),
                    moa.experts(), 1, layer);
            case ATTN_EXPERT_Q, ATTN_EXPERT_K, ATTN_EXPERT_V, ATTN_EXPERT_O, ATTN_EXPERT_Q_BIAS,
                    ATTN_EXPERT_K_BIAS, ATTN_EXPERT_V_BIAS, ATTN_EXPERT_O_BIAS, ATTN_EXPERT_Q_NORM,
                    ATTN_EXPERT_K_NORM -> {
                // BAM: attention expert i is a copy of expert i's model's attention, q/k norms included.
                int input = sources.experts().get(e.expert()).input();
                TensorSource copy = copyOrZeros(src, e.role().denseAttention(), layer);
                yield input == 0 || copy.sourceName() == null ? copy : new TensorSource.Seed(input, copy);
            }
            case SHARED_EXPERT_GATE_PROJ, SHARED_EXPERT_UP, SHARED_EXPERT_DOWN ->
                    member(sources.shared(), e.role(), src, layer);
            case ROUTER -> new TensorSource.Gates(gates.kind(), gates.seed(), layer, 0, routed,
                    gates.slice(layer, 0, routed, hidden), gatesText(gates, sources.experts(), 0));
            case SHARED_EXPERT_ROUTER -> new TensorSource.Gates(gates.kind(), gates.seed(), layer, routed, 1,
                    gates.slice(layer, routed, 1, hidden), gatesText(gates, List.of(sources.shared()), routed));
            default -> single(e, src);
        };
    }

    /** One member's MLP tensor for an expert role: a copy, its down projection scaled, plus noise. */
    private TensorSource member(ExpertSources.Member m, TensorRole role, Family src, int layer) {
        TensorRole dense = switch (role) {
            case EXPERT_GATE, SHARED_EXPERT_GATE_PROJ -> TensorRole.MLP_GATE;
            case EXPERT_UP, SHARED_EXPERT_UP -> TensorRole.MLP_UP;
            default -> TensorRole.MLP_DOWN;
        };
        String name = src.tensorName(dense, layer, -1);
        double scale = dense == TensorRole.MLP_DOWN ? m.residualScale() : 1.0;
        TensorSource s = scale == 1.0 ? new TensorSource.Copy(name)
                : new TensorSource.RowSlice(name, 0, (int) tensors.get(name).shape().dim(0), scale);
        if (m.input() != 0) {
            s = new TensorSource.Seed(m.input(), s);
        }
        // mergekit adds the noise before it scales down_proj: (w + n) * r has noise of std |r| * s.
        return m.noiseStd() > 0 ? new TensorSource.Noisy(s, m.noiseStd() * Math.abs(scale), in.spec().seed()) : s;
    }

    /**
     * A routed expert as convert makes it from the base model's MLP (the member's input is 0): its
     * slice for the granularity, times the scaling's factors, the down projection also times the
     * member's residual scale; noise as {@link #member}, after the factors.
     */
    private TensorSource upcycledMember(ExpertSources.Member m, ExpectedTensor e, Family src) {
        int layer = e.layer();
        TensorRole role = e.role();
        double factor = switch (role) {
            case EXPERT_GATE -> factors.cGate();
            case EXPERT_UP -> factors.cUp();
            default -> factors.cDown() * m.residualScale();
        };
        TensorSource s = switch (role) {
            case EXPERT_GATE -> rows(src.tensorName(TensorRole.MLP_GATE, layer, -1), layout.gateUpRows(e.expert()),
                    factor);
            case EXPERT_UP -> rows(src.tensorName(TensorRole.MLP_UP, layer, -1), layout.gateUpRows(e.expert()), factor);
            default -> columns(src.tensorName(TensorRole.MLP_DOWN, layer, -1), layout.downColumns(e.expert()), factor);
        };
        return m.noiseStd() > 0 && s.sourceName() != null
                ? new TensorSource.Noisy(s, m.noiseStd() * Math.abs(factor), in.spec().seed()) : s;
    }

    /** "mergekit hidden_last gates, 3 (+1 negative) prompts for expert 0, ..." for given rows. */
    private static String gatesText(GateRows gates, List<ExpertSources.Member> members, int first) {
        if (gates.kind() != GateRows.Kind.GIVEN) {
            return null;
        }
        StringBuilder b = new StringBuilder(gates.label());
        for (int i = 0; i < members.size(); i++) {
            ExpertSources.Member m = members.get(i);
            b.append(i == 0 ? ", " : "; ").append(m.positivePrompts()).append(m.positivePrompts() == 1 ? " prompt" : " prompts");
            if (m.negativePrompts() > 0) {
                b.append(" - ").append(m.negativePrompts()).append(" negative");
            }
            b.append(first == 0 ? " for expert " + i : " for the shared expert");
        }
        return b.toString();
    }

    /** {@code inner} read from seed {@code index} (no wrapper for a single seed). */
    private TensorSource seed(int index, TensorSource inner) {
        return in.seeds() == 1 || inner.sourceName() == null ? inner : new TensorSource.Seed(index, inner);
    }

    /**
     * The tensor of the one seed, or the mean over several (in a merge, what is not an expert is
     * averaged).
     */
    private TensorSource averaged(ExpectedTensor e, Family src) {
        return in.seeds() == 1 ? single(e, src) : mean(single(e, src));
    }

    /** The mean over the seeds of a whole tensor; synthesised tensors stay as they are. */
    private TensorSource mean(TensorSource one) {
        if (!(one instanceof TensorSource.Copy)) {
            return one;
        }
        List<TensorSource> parts = new ArrayList<>();
        for (int i = 0; i < in.seeds(); i++) {
            parts.add(new TensorSource.Seed(i, one));
        }
        return new TensorSource.Mean(parts);
    }

    /** The source's {@code role} tensor of {@code layer}, or zeros for a bias it lacks. */
    private TensorSource copyOrZeros(Family src, TensorRole role, int layer) {
        if (src.has(role)) {
            String name = src.tensorName(role, layer, -1);
            if (tensors.containsKey(name)) {
                return new TensorSource.Copy(name);
            }
        }
        if (role.isBias()) {
            return new TensorSource.Zeros();
        }
        throw new IllegalStateException("no source for " + role + " of layer " + layer);
    }

    private TensorSource single(ExpectedTensor e, Family src) {
        UpcycleSpec spec = in.spec();
        int layer = e.layer();
        return switch (e.role()) {
            case ROUTER -> new TensorSource.Router(spec.routerInit(), spec.routerStd(), spec.seed(), spec.experts(),
                    spec.granularity(), layer);
            case SHARED_EXPERT_GATE_PROJ -> layout.hasSharedExpert()
                    ? rows(src.tensorName(TensorRole.MLP_GATE, layer, -1), layout.sharedNeurons(), factors.sharedGateUp())
                    : new TensorSource.Zeros();
            case SHARED_EXPERT_UP -> layout.hasSharedExpert()
                    ? rows(src.tensorName(TensorRole.MLP_UP, layer, -1), layout.sharedNeurons(), factors.sharedGateUp())
                    : new TensorSource.Zeros();
            case SHARED_EXPERT_DOWN -> layout.hasSharedExpert()
                    ? columns(src.tensorName(TensorRole.MLP_DOWN, layer, -1), layout.sharedNeurons(), factors.sharedDown())
                    : new TensorSource.Zeros();
            // sigmoid(0) = 1/2 for every token; the shared down projection carries the x2
            // (docs/method.md, "Shared experts").
            case SHARED_EXPERT_ROUTER -> new TensorSource.Zeros();
            default -> same(e, src);
        };
    }

    private TensorSource sliceExpert(ExpectedTensor e, Family src) {
        int layer = e.layer();
        return switch (e.role()) {
            case EXPERT_GATE -> rows(src.tensorName(TensorRole.MLP_GATE, layer, -1), layout.gateUpRows(e.expert()),
                    factors.cGate());
            case EXPERT_UP -> rows(src.tensorName(TensorRole.MLP_UP, layer, -1), layout.gateUpRows(e.expert()),
                    factors.cUp());
            default -> columns(src.tensorName(TensorRole.MLP_DOWN, layer, -1),
                    layout.downColumns(e.expert()), factors.routedDownZeroed() ? 0.0 : factors.cDown());
        };
    }

    /** A tensor with the same role in source and target: copied, or synthesised when the source lacks it. */
    private TensorSource same(ExpectedTensor e, Family src) {
        if (src.has(e.role())) {
            String name = src.tensorName(e.role(), e.layer(), -1);
            if (tensors.containsKey(name)) {
                return new TensorSource.Copy(name);
            }
        }
        if (e.role().isBias()) {
            // A zero bias is no bias: exact (docs/formats.md, "Choosing a target": Llama to
            // Qwen2-MoE).
            return new TensorSource.Zeros();
        }
        if (e.role() == TensorRole.ATTN_Q_NORM || e.role() == TensorRole.ATTN_K_NORM) {
            return new TensorSource.Constant(1.0);
        }
        if (e.role() == TensorRole.MLP_NORM && src.has(TensorRole.ATTN_NORM)) {
            // A one-norm parallel seed applies input_layernorm to the FFN's input too; a second
            // norm that copies it computes the same thing (docs/attention-experts.md,
            // "Block layouts").
            return new TensorSource.Copy(src.tensorName(TensorRole.ATTN_NORM, e.layer(), -1));
        }
        throw new IllegalStateException("no source for " + e.name() + " (" + e.role() + ")");
    }

    private TensorSource rows(String name, IndexRange r, double factor) {
        if (factor == 0.0) {
            return new TensorSource.Zeros();
        }
        long rowsInSource = tensors.get(name).shape().dim(0);
        if (r.start() == 0 && r.end() == rowsInSource && factor == 1.0) {
            return new TensorSource.Copy(name);
        }
        return new TensorSource.RowSlice(name, r.start(), r.end(), factor);
    }

    private TensorSource columns(String name, IndexRange r, double factor) {
        if (factor == 0.0) {
            return new TensorSource.Zeros();
        }
        long cols = tensors.get(name).shape().dim(1);
        if (r.start() == 0 && r.end() == cols && factor == 1.0) {
            return new TensorSource.Copy(name);
        }
        return new TensorSource.ColumnSlice(name, r.start(), r.end(), factor);
    }

    /** Source tensors the target has no place for: each changes the function when dropped. */
    private List<String> dropped(Set<String> used) {
        ModelConfig source = in.source();
        Family src = source.family();
        Map<TensorRole, List<String>> lost = new EnumMap<>(TensorRole.class);
        for (String name : new TreeMap<>(tensors).keySet()) {
            if (used.contains(name) || name.endsWith(INV_FREQ)) {
                continue;
            }
            TensorId id = src.roleOf(name).orElse(null);
            if (id == null) {
                continue;
            }
            boolean upcycledMlp = in.layers().contains(id.layer()) && (id.role() == TensorRole.MLP_GATE
                    || id.role() == TensorRole.MLP_UP || id.role() == TensorRole.MLP_DOWN);
            boolean tiedHead = id.role() == TensorRole.LM_HEAD && source.tieWordEmbeddings();
            // A forced layout change already gives up step-0 equality, and says so in the verdict.
            boolean forcedNorm = id.role() == TensorRole.MLP_NORM && in.blocks().changed();
            if (!upcycledMlp && !tiedHead && !forcedNorm) {
                lost.computeIfAbsent(id.role(), r -> new ArrayList<>()).add(name);
            }
        }
        List<String> out = new ArrayList<>();
        for (var entry : lost.entrySet()) {
            List<String> names = entry.getValue();
            out.add(target.cliName() + " has no place for the source's " + names.size() + " "
                    + entry.getKey().name().toLowerCase(Locale.ROOT) + " tensor" + (names.size() == 1 ? "" : "s")
                    + " (e.g. " + names.get(0) + "), so they would be dropped");
        }
        return out;
    }

    /** The dtype synthesised tensors get: that of the embedding, the model's main dtype. */
    private DType modelDtype() {
        ModelConfig source = in.source();
        TensorHeader embed = tensors.get(source.family().tensorName(TensorRole.EMBED));
        return writable(embed != null ? embed.dtype() : source.dtypeHint().orElse(DType.F32));
    }

    private static DType writable(DType d) {
        return d.isWritable() ? d : DType.F32;
    }
}
