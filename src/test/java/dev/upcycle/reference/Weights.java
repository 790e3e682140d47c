package dev.upcycle.reference;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads tensors of a checkpoint as double on demand (nothing is cached: the reference holds one
 * layer at a time). Names come only from the family's templates; every tensor read must be one
 * the config promises ({@link ModelConfig#expectedTensors()}) and have the promised shape.
 */
final class Weights {

    private final Checkpoint checkpoint;
    private final ModelConfig config;
    private final Map<String, ExpectedTensor> expected = new LinkedHashMap<>();
    /** Values that replace a tensor's stored ones (finite-difference gradient checks). */
    private final Map<String, double[]> overrides = new LinkedHashMap<>();

    Weights(Checkpoint checkpoint, ModelConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        for (ExpectedTensor e : config.expectedTensors()) {
            expected.put(e.name(), e);
        }
    }

    String name(TensorRole role, int layer, int expert) {
        return config.family().tensorName(role, layer, expert);
    }

    /** Whether the config promises this tensor (biases, q/k norms, lm_head, ...). */
    boolean has(TensorRole role, int layer) {
        return config.family().has(role) && expected.containsKey(name(role, layer, -1));
    }

    Mat matrix(TensorRole role, int layer, int expert) {
        String name = name(role, layer, expert);
        long[] dims = check(name);
        if (dims.length != 2) {
            throw new IllegalStateException(name + " is not a matrix: " + Arrays.toString(dims));
        }
        return new Mat((int) dims[0], (int) dims[1], read(name));
    }

    Mat matrix(TensorRole role, int layer) {
        return matrix(role, layer, -1);
    }

    /** Whether the config promises this per-expert tensor. */
    boolean has(TensorRole role, int layer, int expert) {
        return config.family().has(role) && expected.containsKey(name(role, layer, expert));
    }

    /** A per-expert 1-D tensor, or null when the config does not promise it. */
    double[] vectorOrNull(TensorRole role, int layer, int expert) {
        if (!has(role, layer, expert)) {
            return null;
        }
        String name = name(role, layer, expert);
        check(name);
        return read(name);
    }

    /** A 1-D tensor (norm weight, bias), or null when the config does not promise it. */
    double[] vectorOrNull(TensorRole role, int layer) {
        return has(role, layer) ? vector(role, layer) : null;
    }

    double[] vector(TensorRole role, int layer) {
        String name = name(role, layer, -1);
        check(name);
        return read(name);
    }

    /** Rows {@code [first, first + count)} of a 2-D tensor, flattened. */
    double[] rows(TensorRole role, long first, long count) {
        String name = name(role, -1, -1);
        check(name);
        TensorRef ref = checkpoint.tensor(name);
        return toDouble(ref.file().readRowsAsFloats(ref.header().name(), first, count));
    }

    private long[] check(String name) {
        ExpectedTensor e = expected.get(name);
        if (e == null) {
            throw new IllegalStateException("config does not promise tensor " + name);
        }
        long[] found = checkpoint.tensor(name).header().shape().dims();
        if (!Arrays.equals(found, e.shape().dims())) {
            throw new IllegalStateException(name + " has shape " + Arrays.toString(found) + ", config says "
                    + Arrays.toString(e.shape().dims()));
        }
        return found;
    }

    /** Uses {@code values} instead of the stored tensor {@code name} from now on; null restores it. */
    void override(String name, double[] values) {
        long elements = 1;
        for (long d : check(name)) {
            elements *= d;
        }
        if (values != null && values.length != elements) {
            throw new IllegalArgumentException(name + " has " + elements + " elements, not " + values.length);
        }
        if (values == null) {
            overrides.remove(name);
        } else {
            overrides.put(name, values.clone());
        }
    }

    double[] read(String name) {
        double[] o = overrides.get(name);
        if (o != null) {
            return o.clone();
        }
        TensorRef ref = checkpoint.tensor(name);
        return toDouble(ref.file().readFloats(ref.header().name()));
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
