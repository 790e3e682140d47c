package dev.upcycle.testing;

import dev.upcycle.moe.FfnActivation;
import dev.upcycle.moe.RoutingMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The reference MoE forward of the tests: dense FFNs and MoE layers (docs/method.md: "Notation",
 * "Routing modes", "Shared experts" and "Training losses"), token by token, independent of the
 * code under test. {@link Precision#F64} computes in double; {@link Precision#F32} rounds every
 * operation's result to float, which equals float32 arithmetic for +, -, * and / because double has
 * more than 2*24+2 significand bits (double rounding is innocuous; Figueroa 1995), and so mimics an
 * f32 runtime. The whole-model reference ({@code dev.upcycle.reference}) routes its sparse layers
 * through {@link #softmax}, {@link #topK(double[], int)} and {@link #mixtralWeights}.
 */
public final class MoeReference {

    /** Arithmetic precision of the reference. */
    public enum Precision {
        F64, F32;

        public double r(double v) {
            return this == F32 ? (double) (float) v : v;
        }
    }

    /** One FFN, dense or expert: gate/up {@code [width, d]}, down {@code [d, width]}; null = absent. */
    public record Ffn(int hidden, int width, float[] gate, float[] up, float[] down, float[] gateBias,
                      float[] upBias, float[] downBias) {
    }

    /**
     * An MoE layer: router {@code [N, d]}, routed experts, and an optional shared expert whose
     * output is multiplied by {@code sigmoid(sharedGate . x)} (Qwen2-MoE).
     */
    public record Layer(RoutingMode routing, int topK, float[] router, List<Ffn> experts, Ffn shared, float[] sharedGate) {
    }

    /** One token's routing decision. */
    public record Route(double[] logits, double[] probs, int[] selected, double[] weights) {
        /** {@code S(x)}: the summed softmax probability of the selected experts. */
        public double selectedMass() {
            double s = 0;
            for (int i : selected) {
                s += probs[i];
            }
            return s;
        }
    }

    private final FfnActivation activation;
    private final Precision p;
    /** Tie preference: among equal values the lower rank is taken first; null is lowest index. */
    private final int[] tieRank;

    public MoeReference(FfnActivation activation, Precision precision) {
        this(activation, precision, null);
    }

    private MoeReference(FfnActivation activation, Precision precision, int[] tieRank) {
        this.activation = activation;
        this.p = precision;
        this.tieRank = tieRank;
    }

    /**
     * The same reference, but ties broken shard-first across virtual groups: shard 0 of every group,
     * then shard 1, and so on ({@code n} experts, groups of {@code g} consecutive experts). Whenever
     * the choice among tied experts is free, it cuts groups: a tie order no runtime promises against.
     */
    public MoeReference withGroupCuttingTies(int n, int g) {
        int[] rank = new int[n];
        for (int i = 0; i < n; i++) {
            rank[i] = (i % g) * (n / g) + i / g;
        }
        return new MoeReference(activation, p, rank);
    }

    /** The activation in double, rounded once in F32 mode. GELU is the tanh form. */
    public double phi(double z) {
        double v = switch (activation) {
            case SILU_GLU -> z / (1 + Math.exp(-z));
            case GELU_GLU, GELU -> 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
            case SQUARED_RELU -> z > 0 ? z * z : 0;
            case RELU -> Math.max(0, z);
        };
        return p.r(v);
    }

    /** {@code W_d (phi(W_g x + b_g) * (W_u x + b_u)) + b_d} (or the plain form without a gate). */
    public double[] ffn(Ffn f, double[] x) {
        int d = f.hidden();
        int w = f.width();
        double[] a = new double[w];
        for (int i = 0; i < w; i++) {
            double u = addBias(dot(f.up(), i * d, x, d), f.upBias(), i);
            if (f.gate() != null) {
                double g = addBias(dot(f.gate(), i * d, x, d), f.gateBias(), i);
                a[i] = p.r(phi(g) * u);
            } else {
                a[i] = phi(u);
            }
        }
        double[] y = new double[d];
        for (int r = 0; r < d; r++) {
            y[r] = addBias(dot(f.down(), r * w, a, w), f.downBias(), r);
        }
        return y;
    }

    /** Router logits {@code l = R x}, {@code [N]}. */
    public double[] logits(float[] router, int n, double[] x) {
        int d = x.length;
        double[] l = new double[n];
        for (int i = 0; i < n; i++) {
            l[i] = dot(router, i * d, x, d);
        }
        return l;
    }

    /** Max-shifted softmax. */
    public double[] softmax(double[] l) {
        double m = Arrays.stream(l).max().orElseThrow();
        double[] e = new double[l.length];
        double sum = 0;
        for (int i = 0; i < l.length; i++) {
            e[i] = p.r(Math.exp(p.r(l[i] - m)));
            sum = p.r(sum + e[i]);
        }
        for (int i = 0; i < l.length; i++) {
            e[i] = p.r(e[i] / sum);
        }
        return e;
    }

    /**
     * Indices of the {@code k} largest values, ties broken by lowest index (docs/method.md,
     * "Routing modes"), in selection order.
     */
    public static int[] topK(double[] v, int k) {
        return topK(v, k, null);
    }

    /** As {@link #topK(double[], int)}, ties broken by lowest {@code rank} (lowest index when null). */
    public static int[] topK(double[] v, int k, int[] rank) {
        // Selection by repeated maximum: among equals the lowest rank (or index) wins.
        int[] sel = new int[k];
        boolean[] taken = new boolean[v.length];
        for (int s = 0; s < k; s++) {
            int best = -1;
            for (int i = 0; i < v.length; i++) {
                if (!taken[i] && (best < 0 || v[i] > v[best]
                        || v[i] == v[best] && rank != null && rank[i] < rank[best])) {
                    best = i;
                }
            }
            taken[best] = true;
            sel[s] = best;
        }
        return sel;
    }

    /** Selection and weights for one token under {@code routing} (docs/method.md, "Routing modes"). */
    public Route route(Layer layer, double[] x) {
        double[] l = logits(layer.router(), layer.router().length / x.length, x);
        double[] probs = softmax(l);
        int[] sel = topK(l, layer.topK(), tieRank);
        double[] w = new double[sel.length];
        if (layer.routing() == RoutingMode.SOFTMAX_TOPK) {
            for (int i = 0; i < sel.length; i++) {
                w[i] = probs[sel[i]];
            }
        } else {
            double[] ls = new double[sel.length];
            for (int i = 0; i < sel.length; i++) {
                ls[i] = l[sel[i]];
            }
            w = softmax(ls);
        }
        return new Route(l, probs, sel, w);
    }

    /**
     * HF Mixtral's weights: softmax over all N, top-K of the probabilities, divided by their sum.
     * Returns {@code {indices, weights}} with indices as doubles.
     */
    public double[][] mixtralWeights(double[] logits, int k) {
        double[] probs = softmax(logits);
        int[] sel = topK(probs, k, tieRank);
        double sum = 0;
        for (int i : sel) {
            sum = p.r(sum + probs[i]);
        }
        double[] w = new double[k];
        double[] idx = new double[k];
        for (int i = 0; i < k; i++) {
            w[i] = p.r(probs[sel[i]] / sum);
            idx[i] = sel[i];
        }
        return new double[][] {idx, w};
    }

    /** {@code sum_{i in sel} w_i E_i(x)} plus {@code sigmoid(w_s . x) * Shared(x)}. */
    public double[] moe(Layer layer, double[] x) {
        Route route = route(layer, x);
        double[] y = new double[x.length];
        for (int i = 0; i < route.selected().length; i++) {
            accumulate(y, route.weights()[i], ffn(layer.experts().get(route.selected()[i]), x));
        }
        if (layer.shared() != null) {
            double z = dot(layer.sharedGate(), 0, x, x.length);
            accumulate(y, p.r(1 / (1 + Math.exp(-z))), ffn(layer.shared(), x));
        }
        return y;
    }

    /** Dense outputs for all tokens. */
    public double[][] dense(Ffn f, double[][] xs) {
        return Arrays.stream(xs).map(x -> ffn(f, x)).toArray(double[][]::new);
    }

    /** MoE outputs for all tokens. */
    public double[][] moe(Layer layer, double[][] xs) {
        return Arrays.stream(xs).map(x -> moe(layer, x)).toArray(double[][]::new);
    }

    /** Routes for all tokens. */
    public List<Route> routes(Layer layer, double[][] xs) {
        List<Route> out = new ArrayList<>();
        for (double[] x : xs) {
            out.add(route(layer, x));
        }
        return out;
    }

    /**
     * Switch / ST-MoE load-balancing loss over alpha (docs/method.md, "Training losses"):
     * {@code N sum_i f_i P_i}, {@code f_i = (1/(T K)) sum_t 1[i in sel_t]}, {@code P_i = mean_t p_{t,i}}.
     */
    public static double auxLossOverAlpha(List<Route> routes, int n, int k) {
        double t = routes.size();
        double[] f = new double[n];
        double[] pm = new double[n];
        for (Route r : routes) {
            for (int i : r.selected()) {
                f[i] += 1 / (t * k);
            }
            for (int i = 0; i < n; i++) {
                pm[i] += r.probs()[i] / t;
            }
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += f[i] * pm[i];
        }
        return n * sum;
    }

    /**
     * ST-MoE router z-loss over beta (docs/method.md, "Training losses"):
     * {@code mean_t (log sum_i e^{l_{t,i}})^2}.
     */
    public static double zLossOverBeta(List<Route> routes) {
        double sum = 0;
        for (Route r : routes) {
            double m = Arrays.stream(r.logits()).max().orElseThrow();
            double s = 0;
            for (double l : r.logits()) {
                s += Math.exp(l - m);
            }
            double lse = m + Math.log(s);
            sum += lse * lse;
        }
        return sum / routes.size();
    }

    private void accumulate(double[] y, double w, double[] e) {
        for (int i = 0; i < y.length; i++) {
            y[i] = p.r(y[i] + p.r(w * e[i]));
        }
    }

    private double dot(float[] w, int off, double[] x, int n) {
        double acc = 0;
        for (int k = 0; k < n; k++) {
            acc = p.r(acc + p.r(w[off + k] * x[k]));
        }
        return acc;
    }

    private double addBias(double v, float[] bias, int i) {
        return bias == null ? v : p.r(v + bias[i]);
    }
}
