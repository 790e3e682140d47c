package dev.upcycle.convert;

import dev.upcycle.io.DType;
import dev.upcycle.io.FloatCodec;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorSink;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.math.SeededGaussian;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A sink that adds {@code N(0, std^2)} to every element written through it ({@code expert_noise_std},
 * docs/attention-experts.md, "One seed: copies, and why the router then learns nothing"). Whatever the
 * inner source writes (bytes in the output dtype, channel copies, floats) is decoded, perturbed in
 * float64 and rounded once into the output dtype. The stream is keyed by (seed, tensor name), so a
 * tensor's noise does not depend on the shard layout.
 */
final class NoisySink implements TensorSink {
    private static final int CHUNK = 1 << 16;

    private final TensorSink inner;
    private final double std;
    private final SeededGaussian noise;
    private final DType dtype;
    private final float[] values = new float[CHUNK];
    private final float[] noisy = new float[CHUNK];
    private final ByteBuffer copy = ByteBuffer.allocate(CHUNK * 4).order(ByteOrder.LITTLE_ENDIAN);

    NoisySink(TensorSink inner, double std, long seed) {
        this.inner = inner;
        this.std = std;
        this.noise = SeededGaussian.forName(seed, "expert-noise/" + inner.spec().name());
        this.dtype = inner.spec().dtype();
    }

    @Override
    public TensorSpec spec() {
        return inner.spec();
    }

    @Override
    public long written() {
        return inner.written();
    }

    @Override
    public void write(ByteBuffer src) {
        ByteBuffer b = src.duplicate();
        int w = dtype.bytes();
        while (b.remaining() >= w) {
            int n = Math.min(values.length, b.remaining() / w);
            FloatCodec.decode(dtype, b, values, 0, n, spec().name());
            writeFloats(values, 0, n);
        }
        src.position(src.limit());
    }

    @Override
    public void transferFrom(SafetensorsFile file, TensorHeader tensor) {
        transferFrom(file, tensor, 0, tensor.byteSize());
    }

    @Override
    public void transferFrom(SafetensorsFile file, TensorHeader tensor, long offset, long count) {
        file.readChunks(tensor, offset, count, copy, this::write);
    }

    @Override
    public void writeFloats(float[] v, int off, int len) {
        boolean narrow = dtype != DType.F32;
        for (int done = 0; done < len; ) {
            int n = Math.min(noisy.length, len - done);
            for (int i = 0; i < n; i++) {
                noisy[i] = Rounding.toFloat(v[off + done + i] + noise.next(0.0, std), narrow);
            }
            inner.writeFloats(noisy, 0, n);
            done += n;
        }
    }
}
