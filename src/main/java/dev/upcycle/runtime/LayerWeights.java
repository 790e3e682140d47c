package dev.upcycle.runtime;

import static dev.upcycle.model.TensorRole.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One decoder layer's parameters, read from a {@link WeightSource} into FP32 arrays of a
 * manager. Exactly one of {@code mlp} (dense layer) and {@code moe} (sparse layer) is set, and
 * exactly one of {@code attention} and {@code moa} (attention experts, native family). {@code mlpNorm}
 * is null for a parallel block with one norm (docs/attention-experts.md, "Block layouts").
 */
public record LayerWeights(int layer, NDArray attentionNorm, AttentionWeights attention, NDArray mlpNorm, Mlp mlp,
                           MoeWeights moe, MoaWeights moa) {

    public LayerWeights(int layer, NDArray attentionNorm, AttentionWeights attention, NDArray mlpNorm, Mlp mlp,
                        MoeWeights moe) {
        this(layer, attentionNorm, attention, mlpNorm, mlp, moe, null);
    }

    /**
     * Reads layer {@code layer}.
     *
     * @param streamExperts when true, routed experts are read only when they receive tokens,
     *                      into the scope {@link Experts} gives them; otherwise all are read now
     * @param named         receives every array read now under its tensor name (may be null)
     */
    public static LayerWeights load(WeightSource src, NDManager m, int layer, boolean streamExperts,
                                    Map<String, NDArray> named) {
        return load(new Reader(src, m, named), layer, streamExperts);
    }

    /** As above, reading through {@code r} (which decides the dtype arrays are held in). */
    static LayerWeights load(Reader r, int layer, boolean streamExperts) {
        WeightSource src = r.src();
        ModelConfig c = src.config();
        AttentionWeights attention = null;
        MoaWeights moa = null;
        if (c.isMoaLayer(layer)) {
            moa = r.moa(layer, c.moa().numAttentionExperts());
        } else {
            attention = new AttentionWeights(r.get(ATTN_Q, layer), r.get(ATTN_K, layer),
                    r.get(ATTN_V, layer), r.get(ATTN_O, layer), r.opt(ATTN_Q_BIAS, layer), r.opt(ATTN_K_BIAS, layer),
                    r.opt(ATTN_V_BIAS, layer), r.opt(ATTN_O_BIAS, layer), r.opt(ATTN_Q_NORM, layer),
                    r.opt(ATTN_K_NORM, layer));
        }
        NDArray attentionNorm = r.get(ATTN_NORM, layer);
        NDArray mlpNorm = r.opt(MLP_NORM, layer);
        if (!c.isSparseLayer(layer)) {
            Mlp mlp = new Mlp(r.get(MLP_GATE, layer), r.get(MLP_UP, layer), r.get(MLP_DOWN, layer),
                    r.opt(MLP_GATE_BIAS, layer), r.opt(MLP_UP_BIAS, layer), r.opt(MLP_DOWN_BIAS, layer));
            return new LayerWeights(layer, attentionNorm, attention, mlpNorm, mlp, null, moa);
        }
        int count = c.moe().numExperts();
        ExpertSource experts;
        if (streamExperts) {
            experts = new ExpertSource() {
                @Override
                public int count() {
                    return count;
                }

                @Override
                public Mlp expert(int e, NDManager scope) {
                    return new Reader(src, scope, null, r.compact()).expert(layer, e);
                }
            };
        } else {
            List<Mlp> list = new ArrayList<>(count);
            for (int e = 0; e < count; e++) {
                list.add(r.expert(layer, e));
            }
            experts = ExpertSource.resident(list);
        }
        Mlp shared = null;
        NDArray sharedRouter = null;
        if (src.has(SHARED_EXPERT_ROUTER, layer, -1)) {
            shared = Mlp.of(r.get(SHARED_EXPERT_GATE_PROJ, layer), r.get(SHARED_EXPERT_UP, layer),
                    r.get(SHARED_EXPERT_DOWN, layer));
            sharedRouter = r.get(SHARED_EXPERT_ROUTER, layer);
        }
        MoeWeights moe = new MoeWeights(r.get(ROUTER, layer), experts, shared, sharedRouter);
        return new LayerWeights(layer, attentionNorm, attention, mlpNorm, null, moe, moa);
    }

    /**
     * Reads tensors of one source into one manager, recording names when asked; with
     * {@code compact}, matrices stored in 16 bits stay in 16 bits ({@link WeightSource#compact}).
     */
    record Reader(WeightSource src, NDManager m, Map<String, NDArray> named, boolean compact) {
        Reader(WeightSource src, NDManager m, Map<String, NDArray> named) {
            this(src, m, named, false);
        }

        NDArray get(TensorRole role, int layer) {
            return at(role, layer, -1);
        }

        NDArray opt(TensorRole role, int layer) {
            return src.has(role, layer, -1) ? get(role, layer) : null;
        }

        NDArray at(TensorRole role, int layer, int expert) {
            NDArray a = compact ? src.compact(m, role, layer, expert) : src.array(m, role, layer, expert);
            if (named != null) {
                named.put(src.name(role, layer, expert), a);
            }
            return a;
        }

        NDArray optAt(TensorRole role, int layer, int expert) {
            return src.has(role, layer, expert) ? at(role, layer, expert) : null;
        }

        /**
         * The router and every expert (docs/attention-experts.md, "Tensors"); shared_kv experts get the
         * layer's one k and v, and its one k norm where the attention has q/k norms.
         */
        MoaWeights moa(int layer, int experts) {
            NDArray router = get(ATTN_ROUTER, layer);
            boolean shared = src.has(ATTN_K, layer, -1);
            NDArray k = shared ? get(ATTN_K, layer) : null;
            NDArray v = shared ? get(ATTN_V, layer) : null;
            NDArray kb = shared ? opt(ATTN_K_BIAS, layer) : null;
            NDArray vb = shared ? opt(ATTN_V_BIAS, layer) : null;
            NDArray kn = shared ? opt(ATTN_K_NORM, layer) : null;
            List<AttentionWeights> list = new ArrayList<>(experts);
            for (int e = 0; e < experts; e++) {
                list.add(new AttentionWeights(at(ATTN_EXPERT_Q, layer, e),
                        shared ? k : at(ATTN_EXPERT_K, layer, e), shared ? v : at(ATTN_EXPERT_V, layer, e),
                        at(ATTN_EXPERT_O, layer, e), optAt(ATTN_EXPERT_Q_BIAS, layer, e),
                        shared ? kb : optAt(ATTN_EXPERT_K_BIAS, layer, e), shared ? vb : optAt(ATTN_EXPERT_V_BIAS, layer, e),
                        optAt(ATTN_EXPERT_O_BIAS, layer, e), optAt(ATTN_EXPERT_Q_NORM, layer, e),
                        shared ? kn : optAt(ATTN_EXPERT_K_NORM, layer, e)));
            }
            return new MoaWeights(router, list);
        }

        Mlp expert(int layer, int e) {
            return Mlp.of(at(EXPERT_GATE, layer, e), at(EXPERT_UP, layer, e), at(EXPERT_DOWN, layer, e));
        }
    }
}
