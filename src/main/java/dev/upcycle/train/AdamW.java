package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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
 * <p>Updates run outside the recorded graph; the moments live in {@link #manager} and survive the
 * per-step scopes.
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

    /**
     * Updates every parameter in place from its gradient, then zeroes the gradient. One fused
     * libtorch call per tensor (DJL's {@code adamUpdate}, in its decoupled-decay mode) instead of a
     * dozen JNI round trips: with eight experts the optimizer walks every weight of every expert, so
     * at realistic sizes its memory passes, not its call count, are what the MoE pays for.
     *
     * <p>The engine's update has no bias correction of its own; it is folded into the step size and
     * epsilon: {@code lr·m̂/(sqrt(v̂)+eps) = (lr·sqrt(c2)/c1)·m/(sqrt(v)+eps·sqrt(c2))} with
     * {@code c_i = 1 − beta_i^t}. Decay ({@code p −= lr·wd·p}) is applied to matrices only.
     */
    public void step(Map<String, NDArray> parameters, double lr) {
        step++;
        double c1 = 1 - Math.pow(BETA1, step);
        double c2 = 1 - Math.pow(BETA2, step);
        float corrected = (float) (lr * Math.sqrt(c2) / c1);
        float eps = (float) (EPS * Math.sqrt(c2));
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            float decay = decays(p) ? (float) weightDecay : 0f;
            try (NDArray g = p.getGradient()) {
                // rescale 1 and clip -1: clipping is global-norm, done before (GradClip)
                p.getNDArrayInternal().adamUpdate(new NDList(p, g, m.get(e.getKey()), v.get(e.getKey())),
                        new NDList(p), (float) lr, corrected, decay, 1f, -1f, (float) BETA1, (float) BETA2, eps,
                        false, true);
            }
        }
    }

    /** Sets every gradient to zero ({@link #step} does so itself; accumulation sums into them). */
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
