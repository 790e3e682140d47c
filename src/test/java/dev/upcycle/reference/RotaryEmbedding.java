package dev.upcycle.reference;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.model.Rope;

/**
 * Rotary position embedding in double precision, following transformers'
 * {@code modeling_rope_utils.py} ({@code _compute_default_rope_parameters},
 * {@code _compute_linear_scaling_rope_parameters}, {@code _compute_llama3_parameters}) and
 * {@code apply_rotary_pos_emb} / {@code rotate_half} of {@code modeling_llama.py}.
 *
 * <p>The rotated dimension is the whole {@code head_dim} (none of our families has a
 * partial rotary factor). transformers computes {@code inv_freq} in float32; here it is double.
 * The attention scaling factor of default, linear and llama3 RoPE is 1, so cos/sin are unscaled.
 * Other rope types (dynamic, yarn, longrope) are refused rather than approximated.
 */
final class RotaryEmbedding {

    private final double[] invFreq;
    private final int headDim;

    RotaryEmbedding(Rope rope, int headDim) {
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for RoPE, got " + headDim);
        }
        this.headDim = headDim;
        this.invFreq = inverseFrequencies(rope, headDim);
    }

    /** {@code inv_freq[i]} for {@code i < head_dim/2}, after the rope type's scaling. */
    static double[] inverseFrequencies(Rope rope, int headDim) {
        int half = headDim / 2;
        double[] inv = new double[half];
        // default: inv_freq = 1 / theta^(arange(0, dim, 2) / dim)
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(rope.theta(), (2.0 * i) / headDim);
        }
        JsonNode s = rope.scaling();
        switch (rope.type()) {
            case Rope.DEFAULT_TYPE -> {
            }
            case "linear" -> {
                // _compute_linear_scaling_rope_parameters: inv_freq /= factor (= positions / factor)
                double factor = required(s, "factor");
                for (int i = 0; i < half; i++) {
                    inv[i] /= factor;
                }
            }
            case "llama3" -> llama3(inv, s);
            default -> throw new UnsupportedOperationException(
                    "reference forward does not implement rope_type " + rope.type());
        }
        return inv;
    }

    /**
     * {@code _compute_llama3_parameters}: wavelengths longer than
     * {@code original_max_position_embeddings / low_freq_factor} are divided by {@code factor};
     * shorter than {@code original / high_freq_factor} are kept; in between they are
     * interpolated with {@code smooth = (original / wavelen - low) / (high - low)},
     * {@code (1 - smooth) * inv / factor + smooth * inv}.
     */
    private static void llama3(double[] inv, JsonNode s) {
        double factor = required(s, "factor");
        double low = required(s, "low_freq_factor");
        double high = required(s, "high_freq_factor");
        double original = required(s, "original_max_position_embeddings");
        double lowFreqWavelen = original / low;
        double highFreqWavelen = original / high;
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowFreqWavelen) {
                inv[i] = inv[i] / factor;
            } else if (wavelen >= highFreqWavelen) {
                // medium band: !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen)
                double smooth = (original / wavelen - low) / (high - low);
                inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
            }
        }
    }

    private static double required(JsonNode s, String key) {
        JsonNode v = s == null ? null : s.get(key);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException("rope scaling lacks numeric " + key + ": " + s);
        }
        return v.doubleValue();
    }

    /** The scaled inverse frequencies (a copy). */
    double[] inverseFrequencies() {
        return invFreq.clone();
    }

    /**
     * Rotates one head {@code v[off .. off+head_dim)} in place for position {@code pos}:
     * {@code v * cos + rotate_half(v) * sin} with {@code cos, sin} of {@code cat(freqs, freqs)},
     * i.e. pairs {@code (i, i + hd/2)} turn by the angle {@code pos * inv_freq[i]}.
     */
    void apply(double[] v, int off, int pos) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            double angle = pos * invFreq[i];
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            double a = v[off + i];
            double b = v[off + i + half];
            v[off + i] = a * cos - b * sin;        // rotate_half gives -x2 in the first half
            v[off + i + half] = b * cos + a * sin; // and +x1 in the second half
        }
    }
}
