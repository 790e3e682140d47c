package dev.upcycle.reference;

import static dev.upcycle.model.TensorRole.*;

import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.MoeConfig;
import dev.upcycle.moe.FfnActivation;
import dev.upcycle.testing.MoeReference;

/**
 * One decoder layer ({@code LlamaDecoderLayer} and its Mistral / Qwen2 / Qwen3 / Mixtral /
 * Qwen2-MoE / Qwen3-MoE siblings), evaluated in double for a whole sequence at once. The layer's
 * weights are read from the checkpoint when {@link #forward} runs and dropped afterwards.
 */
final class ReferenceLayer {

    /** The layer output and, for a sparse layer, the experts each token was routed to ({@code [T][k]}, else null). */
    record Output(double[][] hidden, int[][] experts) {
    }

    /** Routing (softmax, top-k and its ties) comes from the one reference MoE forward, in double. */
    private static final MoeReference ROUTING = new MoeReference(FfnActivation.SILU_GLU, MoeReference.Precision.F64);

    private final ModelConfig config;
    private final Weights weights;
    private final RotaryEmbedding rope;
    private final int layer;

    ReferenceLayer(ModelConfig config, Weights weights, RotaryEmbedding rope, int layer) {
        this.config = config;
        this.weights = weights;
        this.rope = rope;
        this.layer = layer;
    }

    /**
     * {@code LlamaDecoderLayer.forward}: {@code h = x + attn(input_layernorm(x))};
     * {@code out = h + mlp(post_attention_layernorm(h))}, where the MLP is the dense MLP or the
     * sparse MoE block per {@link ModelConfig#isSparseLayer}.
     */
    Output forward(double[][] x) {
        int t = x.length;
        double eps = config.rmsNormEps();
        double[] attnNorm = weights.vector(ATTN_NORM, layer);
        double[][] normed = new double[t][];
        for (int i = 0; i < t; i++) {
            normed[i] = rmsNorm(x[i], attnNorm, eps);
        }
        double[][] attn = config.isMoaLayer(layer) ? moa(normed) : attention(normed, -1);
        // Parallel blocks (docs/attention-experts.md, "Block layouts"): a parallel block feeds the FFN
        // the block input x (its own norm, or input_layernorm's).
        boolean parallel = config.moa() != null && config.moa().blockLayout() == MoaConfig.BlockLayout.PARALLEL;
        double[][] h = new double[t][];
        for (int i = 0; i < t; i++) {
            h[i] = add(x[i], attn[i]);
        }
        double[] mlpNorm = weights.vectorOrNull(MLP_NORM, layer);
        double[][] normed2 = new double[t][];
        for (int i = 0; i < t; i++) {
            normed2[i] = mlpNorm == null ? normed[i] : rmsNorm(parallel ? x[i] : h[i], mlpNorm, eps);
        }
        double[][] mlp;
        int[][] experts = null;
        if (config.isSparseLayer(layer)) {
            experts = new int[t][];
            mlp = moe(normed2, experts);
        } else {
            mlp = denseMlp(normed2);
        }
        double[][] out = new double[t][];
        for (int i = 0; i < t; i++) {
            out[i] = add(h[i], mlp[i]);
        }
        return new Output(out, experts);
    }

    // ---- attention -------------------------------------------------------------------------

    /**
     * {@code LlamaAttention.forward} with {@code eager_attention_forward}: q/k/v projections
     * (+bias where the config promises it); Qwen3 {@code q_norm}/{@code k_norm} RMSNorm per head
     * over {@code head_dim} before RoPE; RoPE at positions {@code 0..T-1}; GQA
     * ({@code repeat_kv}: query head {@code j} uses kv head {@code j / (h / kv)}); scores
     * {@code q·k / sqrt(head_dim)}; causal (and optionally sliding-window) mask; softmax;
     * weighted sum of v; {@code o_proj} (+bias).
     */
    /**
     * MoA (docs/attention-experts.md, "The soft mixture of attention"): {@code g = softmax(W_attn h)}
     * (top-k renormalised when configured, ties to the lowest index), {@code Σ_e g_e A_e(h)} in
     * ascending expert order; shared_kv experts read the layer's k/v.
     */
    private double[][] moa(double[][] x) {
        MoaConfig moa = config.moa();
        int t = x.length;
        int experts = moa.numAttentionExperts();
        Mat router = weights.matrix(ATTN_ROUTER, layer);
        double[][] gates = new double[t][];
        for (int i = 0; i < t; i++) {
            double[] g = ROUTING.softmax(router.apply(x[i], null));
            if (!moa.soft()) {
                boolean[] kept = new boolean[experts];
                for (int e : MoeReference.topK(g, moa.activeExperts())) {
                    kept[e] = true;
                }
                double sum = 0;
                for (int e = 0; e < experts; e++) {
                    sum += kept[e] ? g[e] : 0;
                }
                for (int e = 0; e < experts; e++) {
                    g[e] = kept[e] ? g[e] / sum : 0;
                }
            }
            gates[i] = g;
        }
        double[][] out = new double[t][config.hiddenSize()];
        for (int e = 0; e < experts; e++) {
            double[][] y = attention(x, e);
            for (int i = 0; i < t; i++) {
                for (int c = 0; c < out[i].length; c++) {
                    out[i][c] += gates[i][e] * y[i][c];
                }
            }
        }
        return out;
    }

    /** The attention of attention expert {@code expert}, or the dense attention for -1. */
    private double[][] attention(double[][] x, int expert) {
        int t = x.length;
        int heads = config.numAttentionHeads();
        int kvHeads = config.numKeyValueHeads();
        int hd = config.headDim();
        int group = heads / kvHeads;
        double eps = config.rmsNormEps();
        Integer window = slidingWindow();

        boolean ownKv = expert >= 0 && weights.has(ATTN_EXPERT_K, layer, expert);
        double[][] q = expert < 0 ? project(x, ATTN_Q, ATTN_Q_BIAS) : project(x, ATTN_EXPERT_Q, ATTN_EXPERT_Q_BIAS, expert);
        double[][] k = ownKv ? project(x, ATTN_EXPERT_K, ATTN_EXPERT_K_BIAS, expert) : project(x, ATTN_K, ATTN_K_BIAS);
        double[][] v = ownKv ? project(x, ATTN_EXPERT_V, ATTN_EXPERT_V_BIAS, expert) : project(x, ATTN_V, ATTN_V_BIAS);
        // An attention expert has its own q norm, and its own k norm when it owns k (native, qk norms).
        double[] qNorm = expert < 0 ? weights.vectorOrNull(ATTN_Q_NORM, layer)
                : weights.vectorOrNull(ATTN_EXPERT_Q_NORM, layer, expert);
        double[] kNorm = ownKv ? weights.vectorOrNull(ATTN_EXPERT_K_NORM, layer, expert)
                : weights.vectorOrNull(ATTN_K_NORM, layer);
        for (int i = 0; i < t; i++) {
            for (int head = 0; head < heads; head++) {
                if (qNorm != null) {
                    rmsNormInPlace(q[i], head * hd, hd, qNorm, eps);
                }
                rope.apply(q[i], head * hd, i);
            }
            for (int head = 0; head < kvHeads; head++) {
                if (kNorm != null) {
                    rmsNormInPlace(k[i], head * hd, hd, kNorm, eps);
                }
                rope.apply(k[i], head * hd, i);
            }
        }

        double scale = 1.0 / Math.sqrt(hd);
        double[][] context = new double[t][heads * hd];
        for (int head = 0; head < heads; head++) {
            int kvOff = (head / group) * hd;
            int qOff = head * hd;
            for (int i = 0; i < t; i++) {
                // keys j <= i (causal) and, with a window w, i - j < w (masking_utils.sliding_window_overlay)
                int first = window == null ? 0 : Math.max(0, i - window + 1);
                double[] scores = new double[i - first + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = first; j <= i; j++) {
                    double s = 0;
                    for (int c = 0; c < hd; c++) {
                        s += q[i][qOff + c] * k[j][kvOff + c];
                    }
                    scores[j - first] = s * scale;
                    max = Math.max(max, scores[j - first]);
                }
                double sum = 0;
                for (int j = 0; j < scores.length; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = first; j <= i; j++) {
                    double p = scores[j - first] / sum;
                    for (int c = 0; c < hd; c++) {
                        context[i][qOff + c] += p * v[j][kvOff + c];
                    }
                }
            }
        }
        return expert < 0 ? project(context, ATTN_O, ATTN_O_BIAS) : project(context, ATTN_EXPERT_O, ATTN_EXPERT_O_BIAS, expert);
    }

    private double[][] project(double[][] x, dev.upcycle.model.TensorRole weight, dev.upcycle.model.TensorRole bias,
                               int expert) {
        Mat w = weights.matrix(weight, layer, expert);
        double[] b = weights.vectorOrNull(bias, layer, expert);
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = w.apply(x[i], b);
        }
        return out;
    }

    /**
     * The attention window of this layer, or null for full causal attention.
     * Mistral and Mixtral: {@code sliding_window} on every layer when non-null. Qwen families
     * (those with {@code use_sliding_window}): transformers' {@code Qwen2Config.layer_types} rule,
     * sliding iff {@code use_sliding_window} and {@code sliding_window} non-null and
     * {@code layer >= max_window_layers} (a null {@code max_window_layers} counts as 0).
     */
    Integer slidingWindow() {
        Integer w = config.slidingWindow();
        if (w == null) {
            return null;
        }
        if (!config.family().declares("use_sliding_window")) {
            return w;
        }
        int from = config.maxWindowLayers() == null ? 0 : config.maxWindowLayers();
        return config.useSlidingWindow() && layer >= from ? w : null;
    }

    private double[][] project(double[][] x, dev.upcycle.model.TensorRole weight,
                               dev.upcycle.model.TensorRole bias) {
        Mat w = weights.matrix(weight, layer);
        double[] b = weights.vectorOrNull(bias, layer);
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = w.apply(x[i], b);
        }
        return out;
    }

    // ---- MLPs ------------------------------------------------------------------------------

    /** {@code LlamaMLP}: {@code down(silu(gate x) * up x)}, each with its bias iff {@code mlp_bias}. */
    private double[][] denseMlp(double[][] x) {
        Ffn ffn = new Ffn(weights.matrix(MLP_GATE, layer), weights.matrix(MLP_UP, layer),
                weights.matrix(MLP_DOWN, layer), weights.vectorOrNull(MLP_GATE_BIAS, layer),
                weights.vectorOrNull(MLP_UP_BIAS, layer), weights.vectorOrNull(MLP_DOWN_BIAS, layer));
        checkActivation();
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = ffn.apply(x[i]);
        }
        return out;
    }

    /**
     * {@code MixtralSparseMoeBlock} / {@code Qwen2MoeSparseMoeBlock} / {@code Qwen3MoeSparseMoeBlock}:
     * router logits {@code x·Wᵀ}; {@code p = softmax} over all E experts; top-k of {@code p}, ties
     * broken by lowest expert index (docs/method.md, "Routing modes"; torch leaves it unspecified); the
     * k weights divided by their sum iff Mixtral or {@code norm_topk_prob}; output
     * {@code Σ w_i expert_i(x)}, accumulated in ascending expert order. Qwen2-MoE adds
     * {@code sigmoid(x·shared_expert_gateᵀ) * shared_expert(x)}.
     */
    private double[][] moe(double[][] x, int[][] selected) {
        checkActivation();
        MoeConfig moe = config.moe();
        int t = x.length;
        int e = moe.numExperts();
        int k = moe.numExpertsPerTok();
        boolean renormalise = moe.normTopkProb() || "mixtral".equals(config.modelType());
        Mat router = weights.matrix(ROUTER, layer);
        double[][] routeWeight = new double[t][e]; // 0 where not selected
        for (int i = 0; i < t; i++) {
            double[] p = ROUTING.softmax(router.apply(x[i]));
            selected[i] = MoeReference.topK(p, k);
            double sum = 0;
            for (int idx : selected[i]) {
                sum += p[idx];
            }
            for (int idx : selected[i]) {
                routeWeight[i][idx] = renormalise ? p[idx] / sum : p[idx];
            }
        }
        double[][] out = new double[t][config.hiddenSize()];
        for (int expert = 0; expert < e; expert++) {
            Ffn ffn = null; // loaded only when some token picked it
            for (int i = 0; i < t; i++) {
                if (!contains(selected[i], expert)) {
                    continue;
                }
                if (ffn == null) {
                    ffn = new Ffn(weights.matrix(EXPERT_GATE, layer, expert), weights.matrix(EXPERT_UP, layer, expert),
                            weights.matrix(EXPERT_DOWN, layer, expert), null, null, null);
                }
                double[] y = ffn.apply(x[i]);
                for (int c = 0; c < y.length; c++) {
                    out[i][c] += routeWeight[i][expert] * y[c];
                }
            }
        }
        if (config.family().has(SHARED_EXPERT_GATE_PROJ) && moe.hasSharedExpert()) {
            Ffn shared = new Ffn(weights.matrix(SHARED_EXPERT_GATE_PROJ, layer), weights.matrix(SHARED_EXPERT_UP, layer),
                    weights.matrix(SHARED_EXPERT_DOWN, layer), null, null, null);
            Mat gate = weights.matrix(SHARED_EXPERT_ROUTER, layer);
            for (int i = 0; i < t; i++) {
                double g = sigmoid(gate.apply(x[i])[0]);
                double[] y = shared.apply(x[i]);
                for (int c = 0; c < y.length; c++) {
                    out[i][c] += g * y[c];
                }
            }
        }
        return out;
    }

    private void checkActivation() {
        if (!"silu".equals(config.hiddenAct())) {
            throw new UnsupportedOperationException("reference forward implements hidden_act silu only, not "
                    + config.hiddenAct());
        }
    }

    /** One gated FFN: {@code down(silu(gate x + bg) * (up x + bu)) + bd}. */
    private record Ffn(Mat gate, Mat up, Mat down, double[] gateBias, double[] upBias, double[] downBias) {
        double[] apply(double[] x) {
            double[] g = gate.apply(x, gateBias);
            double[] u = up.apply(x, upBias);
            for (int j = 0; j < g.length; j++) {
                g[j] = silu(g[j]) * u[j];
            }
            return down.apply(g, downBias);
        }
    }

    // ---- elementwise helpers ---------------------------------------------------------------

    /** {@code LlamaRMSNorm}: {@code x / sqrt(mean(x²) + eps) * weight}. */
    static double[] rmsNorm(double[] x, double[] weight, double eps) {
        double[] out = x.clone();
        rmsNormInPlace(out, 0, out.length, weight, eps);
        return out;
    }

    static void rmsNormInPlace(double[] x, int off, int len, double[] weight, double eps) {
        if (weight.length != len) {
            throw new IllegalArgumentException("norm weight of " + weight.length + " for " + len + " values");
        }
        double ss = 0;
        for (int i = 0; i < len; i++) {
            ss += x[off + i] * x[off + i];
        }
        double inv = 1.0 / Math.sqrt(ss / len + eps);
        for (int i = 0; i < len; i++) {
            x[off + i] = x[off + i] * inv * weight[i];
        }
    }

    static double silu(double v) {
        return v / (1 + Math.exp(-v));
    }

    static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }

    private static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }
}
