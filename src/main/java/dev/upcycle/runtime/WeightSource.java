package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.ExpectedTensor;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelDescription;
import dev.upcycle.model.ModelSource;
import dev.upcycle.model.TensorRole;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * A checkpoint and its config, checked against each other, from which tensors are read by
 * (role, layer, expert) with our own reader. Arrays are read straight into libtorch's memory
 * ({@link NativeTensors}) as FP32, or for a model held in 16 bits as FP16 where the values allow.
 */
public final class WeightSource implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final ModelConfig config;
    private final Map<Key, ExpectedTensor> expected = new HashMap<>();
    private final Map<DType, Long> dtypes = new EnumMap<>(DType.class);
    private final NativeTensors tensors = new NativeTensors();

    private record Key(TensorRole role, int layer, int expert) {
    }

    private WeightSource(Checkpoint checkpoint, ModelConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        for (ExpectedTensor t : config.expectedTensors()) {
            expected.put(new Key(t.role(), t.layer(), t.expert()), t);
        }
        for (TensorRef r : checkpoint.tensors().values()) {
            dtypes.merge(r.header().dtype(), r.header().elements(), Long::sum);
        }
    }

    /**
     * Opens {@code dir} and checks its tensors against its {@code config.json}.
     *
     * @throws UpcycleException InvalidConfig when there is no config, the first finding of
     *                          {@link ModelDescription#check()} otherwise, or any reader error
     */
    public static WeightSource open(Path dir, FamilyRegistry families) {
        ModelSource src = ModelSource.open(dir, families);
        try {
            src.throwIfInvalid();
            return new WeightSource(src.checkpoint(), src.requireConfig());
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    public ModelConfig config() {
        return config;
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    /** Elements per dtype over the whole checkpoint. */
    public Map<DType, Long> dtypes() {
        return Map.copyOf(dtypes);
    }

    /** Whether the config promises this tensor (e.g. biases only with {@code attention_bias}). */
    public boolean has(TensorRole role, int layer, int expert) {
        return expected.containsKey(new Key(role, layer, expert));
    }

    /** The tensor's name; {@code layer}/{@code expert} are -1 where they do not apply. */
    public String name(TensorRole role, int layer, int expert) {
        return tensor(role, layer, expert).name();
    }

    /** Its shape as the config promises it (and the description check confirmed). */
    public long[] shape(TensorRole role, int layer, int expert) {
        return tensor(role, layer, expert).shape().dims();
    }

    /** All values as floats. */
    public float[] floats(TensorRole role, int layer, int expert) {
        TensorRef ref = checkpoint.tensor(name(role, layer, expert));
        return ref.file().readFloats(ref.name());
    }

    /** Rows {@code [first, first + count)} of a matrix as floats. */
    public float[] rows(TensorRole role, int layer, int expert, long first, long count) {
        TensorRef ref = checkpoint.tensor(name(role, layer, expert));
        return ref.file().readRowsAsFloats(ref.name(), first, count);
    }

    /** The tensor as an FP32 array of {@code manager}. */
    public NDArray array(NDManager manager, TensorRole role, int layer, int expert) {
        return tensors.f32(manager, checkpoint.tensor(name(role, layer, expert)));
    }

    /**
     * A matrix stored in 16 bits as an FP16 array (widened to FP32 where it is used, see
     * {@link Ops#linear}); anything else, or a matrix with values beyond FP16's range, as FP32.
     */
    public NDArray compact(NDManager manager, TensorRole role, int layer, int expert) {
        TensorRef ref = checkpoint.tensor(name(role, layer, expert));
        NDArray half = ref.header().shape().dims().length == 2 ? tensors.f16OrNull(manager, ref) : null;
        return half != null ? half : tensors.f32(manager, ref);
    }

    /** As {@link #array}, or null when the config does not promise the tensor. */
    public NDArray optional(NDManager manager, TensorRole role, int layer, int expert) {
        return has(role, layer, expert) ? array(manager, role, layer, expert) : null;
    }

    private ExpectedTensor tensor(TensorRole role, int layer, int expert) {
        ExpectedTensor t = expected.get(new Key(role, layer, expert));
        if (t == null) {
            throw new IllegalArgumentException(config.family() + " config promises no " + role + " tensor at layer "
                    + layer + ", expert " + expert);
        }
        return t;
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
