package dev.upcycle.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.upcycle.runtime.Routing;
import dev.upcycle.runtime.RoutingListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The MoE auxiliary losses of one forward pass, collected through {@link RoutingListener}
 * (docs/method.md, "Training losses"), per sparse layer over its {@code T} tokens:
 * <ul>
 *   <li>load balancing (Switch / ST-MoE): {@code L_aux = α·N·Σ_i f_i·P_i} with
 *       {@code f_i = (1/(T·K)) Σ_t 1[i ∈ sel_t]} (a count, no gradient) and
 *       {@code P_i = (1/T) Σ_t p_{t,i}} (differentiable);</li>
 *   <li>router z-loss (ST-MoE): {@code L_z = β·(1/T) Σ_t (log Σ_i e^{l_{t,i}})²};</li>
 *   <li>the same z-loss on the attention routers of MoA layers, with its own weight γ
 *       ({@code attention_router_z_loss_coef}, 0 by default: BAM puts no loss on them;
 *       docs/attention-experts.md, "Training the routers").</li>
 * </ul>
 * Both are averaged over the sparse layers, so {@code L_aux/α = 1} at uniform probabilities for
 * the model as a whole as for one layer (Megatron-LM sums over layers instead; the average keeps
 * α's meaning independent of depth). Every constant is an NDArray (docs/design.md, "Working with DJL").
 * Also counts the tokens each expert received, per layer, for the load plot.
 */
public final class AuxLosses implements RoutingListener {
    private final double alpha;
    private final double beta;
    private final double gamma;
    private final List<NDArray> aux = new ArrayList<>();
    private final List<NDArray> z = new ArrayList<>();
    private final List<NDArray> attentionZ = new ArrayList<>();
    private final Map<Integer, long[]> load = new TreeMap<>();

    public AuxLosses(double alpha, double beta) {
        this(alpha, beta, 0);
    }

    /** @param gamma weight of the attention routers' z-loss */
    public AuxLosses(double alpha, double beta, double gamma) {
        this.alpha = alpha;
        this.beta = beta;
        this.gamma = gamma;
    }

    @Override
    public void onRouting(int layer, Routing r) {
        NDArray probs = r.probs();
        NDManager scope = probs.getManager();
        int tokens = (int) probs.getShape().get(0);
        int experts = (int) probs.getShape().get(1);
        int[] counts = r.load(experts);
        long[] total = load.computeIfAbsent(layer, k -> new long[experts]);
        float[] f = new float[experts];
        for (int i = 0; i < experts; i++) {
            total[i] += counts[i];
            f[i] = (float) counts[i] / ((float) tokens * r.topK());
        }
        NDArray p = probs.mean(new int[] {0}); // P_i [E]
        NDArray lAux = p.mul(scope.create(f)).sum().mul(scope.create((float) (alpha * experts)));
        aux.add(lAux);
        z.add(zLoss(r.logits(), beta));
    }

    @Override
    public void onAttentionRouting(int layer, NDArray logits) {
        if (gamma > 0) {
            attentionZ.add(zLoss(logits.reshape(-1, logits.getShape().getLastDimension()), gamma));
        }
    }

    /** {@code weight·(1/T) Σ_t (log Σ_i e^{l_{t,i}})²} of logits {@code [T, E]}. */
    private static NDArray zLoss(NDArray logits, double weight) {
        NDArray max = logits.max(new int[] {1}, true).stopGradient();
        NDArray lse = logits.sub(max).exp().sum(new int[] {1}).log().add(max.squeeze(1)); // [T]
        return lse.square().mean().mul(logits.getManager().create((float) weight));
    }

    /** Whether any sparse layer reported. */
    public boolean any() {
        return !aux.isEmpty();
    }

    /** Mean load-balancing loss over the sparse layers (a scalar array), or null for a dense model. */
    public NDArray loadBalancing() {
        return mean(aux);
    }

    /**
     * Mean z-loss over the sparse layers, plus the mean attention-router z-loss over the MoA
     * layers when γ > 0; null for a dense model.
     */
    public NDArray zLoss() {
        NDArray ffn = mean(z);
        NDArray attn = mean(attentionZ);
        return ffn == null ? attn : attn == null ? ffn : ffn.add(attn);
    }

    private static NDArray mean(List<NDArray> terms) {
        if (terms.isEmpty()) {
            return null;
        }
        NDArray s = terms.get(0);
        for (int i = 1; i < terms.size(); i++) {
            s = s.add(terms.get(i));
        }
        return s.div(s.getManager().create((float) terms.size()));
    }

    /** Tokens routed to each expert (slots, k per token), per sparse layer, since creation. */
    public Map<Integer, long[]> load() {
        return load;
    }
}
