package dev.upcycle.moe;

import dev.upcycle.math.SeededGaussian;
import java.util.Objects;

/**
 * Router weights {@code R [N, d]} (HF {@code gate.weight}, layout {@code [out, in]}) per
 * docs/method.md, "Router initialisation". Every draw comes from {@link SeededGaussian} keyed by the
 * user seed and the output tensor name, so the same seed gives the same bytes whatever order layers are
 * written in, and each draw is rounded once from float64 to float32.
 */
public final class RouterInitializer {
    private RouterInitializer() {
    }

    /**
     * The router of one MoE layer, row-major {@code [N, d]}.
     *
     * @param spec       experts, granularity, init mode, std and seed
     * @param layer      the decoder layer (for messages; the stream is keyed by {@code tensorName})
     * @param hidden     {@code d}
     * @param tensorName the output tensor name, e.g. {@code model.layers.3.mlp.gate.weight}; must
     *                   differ between layers so their routers differ
     */
    public static float[] routerWeights(UpcycleSpec spec, int layer, int hidden, String tensorName) {
        Objects.requireNonNull(tensorName, "tensorName");
        if (hidden < 1 || layer < 0) {
            throw new IllegalArgumentException("layer " + layer + " router " + tensorName + ": hidden size "
                    + hidden + " must be >= 1 and layer >= 0");
        }
        int n = spec.experts();
        float[] r = new float[Math.multiplyExact(n, hidden)];
        switch (spec.routerInit()) {
            case ZERO -> {
                // Zero router (docs/method.md, "Router initialisation"): all logits tie; exact for
                // softmax-topK at step 0.
            }
            case RANDOM -> fill(r, n, hidden, spec, tensorName);
            case VIRTUAL_GROUP -> {
                // Draw R0 [E, d] and give experts vG..vG+G-1 row v, so a group's G shards always get
                // bit-identical logits and are selected together (Megatron repeats router rows G times).
                int e = spec.expansion();
                int g = spec.granularity();
                float[] r0 = new float[e * hidden];
                fill(r0, e, hidden, spec, tensorName);
                for (int expert = 0; expert < n; expert++) {
                    System.arraycopy(r0, (expert / g) * hidden, r, expert * hidden, hidden);
                }
            }
            default -> throw new IllegalStateException(spec.routerInit().toString());
        }
        return r;
    }

    /** {@code rows x hidden} i.i.d. {@code N(0, sigma^2)} in row-major order. */
    private static void fill(float[] out, int rows, int hidden, UpcycleSpec spec, String tensorName) {
        SeededGaussian gauss = SeededGaussian.forName(spec.seed(), tensorName);
        double std = spec.routerStd();
        for (int i = 0; i < rows * hidden; i++) {
            out[i] = (float) (std * gauss.next());
        }
    }
}
