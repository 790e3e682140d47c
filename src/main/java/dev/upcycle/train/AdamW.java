package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter), written over NDArrays: moments with bias correction and weight
 * decay decoupled from the gradient ({@code p -= lr·wd·p}, not added to the gradient). Decay
 * applies to 2-D weights only (projections, embeddings, routers); norm weights and biases
 * (1-D) are not decayed, as in nanoGPT and Megatron-LM, because shrinking a norm's gain or a
 * bias towards zero is not a regulariser of the function's complexity.
 *
 * <p>Updates run outside the recorded graph, so Java scalars are safe here; the moments live in
 * {@link #manager} and survive the per-step scopes.
 */
public final class AdamW {
    public static final double BETA1 = 0.9;
    public static final double BETA2 = 0.95;
    public static final double EPS = 1e-8;

    private final NDManager manager;
    private final double weightDecay;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private long step;

    /** Zero moments for every parameter, in {@code manager}. */
    public AdamW(NDManager manager, Map<String, NDArray> parameters, double weightDecay) {
        this.manager = manager;
        this.weightDecay = weightDecay;
        parameters.forEach((name, p) -> {
            m.put(name, manager.zeros(p.getShape()));
            v.put(name, manager.zeros(p.getShape()));
        });
    }

    /** Updates every parameter in place from its gradient. */
    public void step(Map<String, NDArray> parameters, double lr) {
        step++;
        double c1 = 1 - Math.pow(BETA1, step);
        double c2 = 1 - Math.pow(BETA2, step);
        // Every temporary is closed at once: results of an operation belong to its first
        // operand's manager, which here is the long-lived model or optimizer manager.
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            NDArray mt = m.get(e.getKey());
            NDArray vt = v.get(e.getKey());
            try (NDArray g = p.getGradient(); NDArray g1 = g.mul(1 - BETA1); NDArray g2 = g.square()) {
                mt.muli(BETA1).addi(g1);
                vt.muli(BETA2).addi(g2.muli(1 - BETA2));
            }
            try (NDArray update = mt.div(c1); NDArray vHat = vt.div(c2); NDArray denominator = vHat.sqrt()) {
                denominator.addi(EPS);
                update.divi(denominator).muli(lr);
                if (decays(p)) {
                    p.muli(1 - lr * weightDecay);
                }
                p.subi(update);
            }
        }
    }

    /** Sets every gradient to zero (after a step; accumulation sums into them). */
    public static void zeroGradients(Iterable<NDArray> parameters) {
        for (NDArray p : parameters) {
            try (NDArray g = p.getGradient()) {
                g.muli(0);
            }
        }
    }

    /** Only matrices decay. */
    static boolean decays(NDArray p) {
        return p.getShape().dimension() >= 2;
    }

    public long stepCount() {
        return step;
    }

    public Map<String, NDArray> firstMoments() {
        return m;
    }

    public Map<String, NDArray> secondMoments() {
        return v;
    }

    /** Restores a saved state (moments copied into the existing arrays). */
    public void restore(long steps, Map<String, float[]> first, Map<String, float[]> second) {
        this.step = steps;
        m.forEach((name, a) -> copyInto(a, first.get(name)));
        v.forEach((name, a) -> copyInto(a, second.get(name)));
    }

    /**
     * Overwrites {@code target} with {@code values}, bit for bit, keeping the array (and its
     * gradient flag). Not {@code NDArray.set(float[])}: DJL implements that under a libtorch guard
     * that prints a deprecation warning on stderr, which is engine chatter, not the user's business.
     */
    static void copyInto(NDArray target, float[] values) {
        try (NDArray fresh = target.getManager().create(values, target.getShape())) {
            target.set(new NDIndex(":"), fresh);
        }
    }
}
