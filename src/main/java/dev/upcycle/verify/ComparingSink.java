package dev.upcycle.verify;

import dev.upcycle.io.DType;
import dev.upcycle.io.FloatCodec;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.io.TensorSink;
import dev.upcycle.io.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A {@link TensorSink} that writes nothing: every byte the plan's executor would write is compared
 * with the byte at the same place in the checkpoint's tensor, in chunks of {@link #CHUNK} bytes,
 * so memory does not grow with the tensor. The first difference stops the replay.
 */
final class ComparingSink implements TensorSink {
    static final int CHUNK = 4 << 20;

    /** The first element whose bytes differ; thrown to stop the executor. */
    static final class Difference extends RuntimeException {
        final long index;
        final double expected;
        final double actual;

        Difference(long index, double expected, double actual) {
            super(null, null, false, false);
            this.index = index;
            this.expected = expected;
            this.actual = actual;
        }
    }

    private final TensorRef actual;
    private final TensorSpec spec;
    private final int width;
    private final ByteBuffer mine;
    private final ByteBuffer source;
    private long written;

    /** @param buffers two direct buffers of {@link #CHUNK} bytes, reused across tensors */
    ComparingSink(TensorRef actual, ByteBuffer mine, ByteBuffer source) {
        this.actual = actual;
        TensorHeader h = actual.header();
        this.spec = new TensorSpec(h.name(), h.dtype(), h.shape());
        this.width = h.dtype().bytes();
        this.mine = mine;
        this.source = source;
    }

    @Override
    public TensorSpec spec() {
        return spec;
    }

    @Override
    public long written() {
        return written;
    }

    @Override
    public void write(ByteBuffer src) {
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            int n = Math.min(in.remaining(), CHUNK);
            ByteBuffer expected = in.slice(in.position(), n).order(ByteOrder.LITTLE_ENDIAN);
            compare(expected);
            in.position(in.position() + n);
        }
        src.position(src.limit());
    }

    @Override
    public void transferFrom(SafetensorsFile file, TensorHeader tensor) {
        transferFrom(file, tensor, 0, tensor.byteSize());
    }

    @Override
    public void transferFrom(SafetensorsFile file, TensorHeader tensor, long offset, long count) {
        file.readChunks(tensor, offset, count, source, this::compare);
    }

    @Override
    public void writeFloats(float[] values, int off, int len) {
        int per = CHUNK / width;
        for (int done = 0; done < len; ) {
            int n = Math.min(per, len - done);
            source.clear();
            FloatCodec.encode(spec.dtype(), values, off + done, n, source, "tensor \"" + spec.name() + "\"");
            compare(source.flip());
            done += n;
        }
    }

    /** Compares {@code expected} (at most {@link #CHUNK} bytes) with the checkpoint's next bytes. */
    private void compare(ByteBuffer expected) {
        int n = expected.remaining();
        if (written + n > actual.header().byteSize()) {
            throw new IllegalStateException("the plan writes more than " + actual.header().byteSize() + " bytes into "
                    + spec.name());
        }
        mine.clear().limit(n);
        actual.file().readBytes(actual.header(), written, mine);
        mine.flip();
        int at = mine.mismatch(expected);
        if (at >= 0) {
            int element = at / width;
            long index = written / width + element;
            throw new Difference(index, value(expected, element), value(mine, element));
        }
        written += n;
    }

    private double value(ByteBuffer b, int element) {
        DType d = spec.dtype();
        if (!d.isFloat()) {
            ByteBuffer one = b.slice(b.position() + element * width, width).order(ByteOrder.LITTLE_ENDIAN);
            return switch (width) {
                case 1 -> one.get();
                case 2 -> one.getShort();
                case 4 -> one.getInt();
                default -> one.getLong();
            };
        }
        float[] v = new float[1];
        FloatCodec.decode(d, b.slice(b.position() + element * width, width), v, 0, 1, spec.name());
        return v[0];
    }
}
