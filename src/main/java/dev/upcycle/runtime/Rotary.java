package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.ModelConfig;

/**
 * Rotary position embeddings, rotate-half form (transformers {@code apply_rotary_pos_emb}), with
 * the default, {@code linear} and {@code llama3} frequency rules of {@code modeling_rope_utils}.
 * Angles are computed in double and rounded once to FP32, so positions in the thousands keep
 * their accuracy.
 */
public final class Rotary {
    private final double[] inverseFrequencies;

    private Rotary(double[] inverseFrequencies) {
        this.inverseFrequencies = inverseFrequencies;
    }

    /** @throws UpcycleException UnsupportedArchitecture for a rope type other than default, linear, llama3 */
    public static Rotary of(ModelConfig config) {
        return new Rotary(inverseFrequencies(config));
    }

    /** {@code 1 / theta^(2i/hd)} for {@code i < hd/2}, scaled as the config's rope type says. */
    public static double[] inverseFrequencies(ModelConfig config) {
        int dim = config.headDim();
        double theta = config.rope().theta();
        double[] inv = new double[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        }
        ObjectNode s = config.rope().scaling();
        switch (config.rope().type()) {
            case "default" -> {
                return inv;
            }
            case "linear" -> {
                double factor = s.path("factor").asDouble(1.0);
                for (int i = 0; i < inv.length; i++) {
                    inv[i] /= factor;
                }
                return inv;
            }
            case "llama3" -> {
                return llama3(inv, s.path("factor").asDouble(8.0), s.path("low_freq_factor").asDouble(1.0),
                        s.path("high_freq_factor").asDouble(4.0),
                        s.path("original_max_position_embeddings").asDouble(8192));
            }
            default -> throw new UpcycleException(ErrorKind.UnsupportedArchitecture, "rope_scaling",
                    "rope type " + config.rope().type() + " is not supported by the runtime (default, linear, llama3 are)");
        }
    }

    /** transformers {@code _compute_llama3_parameters}. */
    static double[] llama3(double[] inv, double factor, double low, double high, double oldContext) {
        double lowWavelen = oldContext / low;
        double highWavelen = oldContext / high;
        double[] out = new double[inv.length];
        for (int i = 0; i < inv.length; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            double f = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            if (medium) {
                double smooth = (oldContext / wavelen - low) / (high - low);
                f = (1 - smooth) * f / factor + smooth * f;
            }
            out[i] = f;
        }
        return out;
    }

    /** Cosine and sine tables {@code [T, hd]} for positions {@code 0..T-1} (frequencies repeated twice). */
    public NDList tables(NDManager manager, int length) {
        return tables(manager, 0, length);
    }

    /** As {@link #tables(NDManager, int)} for positions {@code from..from+T-1}: new tokens after a KV cache. */
    public NDList tables(NDManager manager, int from, int length) {
        int half = inverseFrequencies.length;
        int dim = 2 * half;
        float[] cos = new float[length * dim];
        float[] sin = new float[length * dim];
        for (int p = 0; p < length; p++) {
            for (int i = 0; i < half; i++) {
                double a = (from + p) * inverseFrequencies[i];
                float c = (float) Math.cos(a);
                float s = (float) Math.sin(a);
                cos[p * dim + i] = c;
                cos[p * dim + half + i] = c;
                sin[p * dim + i] = s;
                sin[p * dim + half + i] = s;
            }
        }
        Shape shape = new Shape(length, dim);
        return new NDList(manager.create(cos, shape), manager.create(sin, shape));
    }

    /** {@code x·cos + rotate_half(x)·sin} for {@code x [..., T, hd]}. */
    public static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        long half = x.getShape().get(x.getShape().dimension() - 1) / 2;
        NDList halves = x.split(new long[] {half}, Ops.last(x));
        NDArray rotated = halves.get(1).neg().concat(halves.get(0), Ops.last(x));
        return x.mul(cos).add(rotated.mul(sin));
    }
}
