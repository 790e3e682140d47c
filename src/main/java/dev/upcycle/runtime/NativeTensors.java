package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.io.DType;
import dev.upcycle.io.FloatCodec;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads tensors from their safetensors files into memory that libtorch allocated, reading each
 * byte once. DJL's {@code create(Buffer, ...)} on the CPU does not copy: the array keeps pointing
 * at the Java direct buffer, which then counts against {@code -XX:MaxDirectMemorySize} for the
 * array's whole life (a model-sized direct reservation). So arrays are allocated empty by libtorch
 * and filled through a view of their own memory ({@code toByteBuffer(true)}, no copy): stored bytes
 * that already have the array's dtype go from the file straight into it; others pass through one
 * bounded staging buffer and are converted on the way. BF16 cannot be handed to DJL at all (its
 * PyTorch JNI has no BF16 dtype and aborts the process on one), so BF16 is widened while copying.
 *
 * <p>Not thread-safe: one staging buffer per instance.
 */
final class NativeTensors {
    /** Largest span written through one view; a view is a ByteBuffer, so below 2 GiB. */
    static final long BLOCK_BYTES = 1L << 30;
    /** Staging size for tensors whose bytes need converting. */
    static final int CHUNK_BYTES = 8 << 20;
    /** The largest finite FP16 value: a weight beyond it cannot be held in 16 bits. */
    static final float F16_MAX = 65504f;

    private final long blockBytes;
    private final int chunkBytes;
    private ByteBuffer staging;
    private float[] floats;

    NativeTensors() {
        this(BLOCK_BYTES, CHUNK_BYTES);
    }

    /** With smaller blocks and chunks, so that tests cover several of each. */
    NativeTensors(long blockBytes, int chunkBytes) {
        this.blockBytes = blockBytes;
        this.chunkBytes = chunkBytes;
    }

    /** The whole tensor as a {@code FLOAT32} array of {@code m}. */
    NDArray f32(NDManager m, TensorRef ref) {
        NDArray out = m.create(shape(ref.header()), DataType.FLOAT32);
        try {
            fill(ref, out, DType.F32);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * The tensor as a {@code FLOAT16} array of {@code m} when it is stored in 16 bits and every
     * value has a finite FP16 value; otherwise null (the caller then holds it in FP32). FP16
     * stores are exact; BF16 values round to FP16's 11 significant bits, and those below 2^-14 to
     * multiples of 2^-24 (an error of at most 3e-8, far below what the FP32 products round away).
     */
    NDArray f16OrNull(NDManager m, TensorRef ref) {
        DType stored = ref.header().dtype();
        if (stored != DType.F16 && stored != DType.BF16) {
            return null;
        }
        NDArray out = m.create(shape(ref.header()), DataType.FLOAT16);
        try {
            if (fill(ref, out, DType.F16)) {
                return out;
            }
            out.close();
            return null;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Fills {@code out} (of dtype {@code target}) block by block; false when a value does not fit FP16. */
    private boolean fill(TensorRef ref, NDArray out, DType target) {
        TensorHeader t = ref.header();
        long rows = t.shape().rows();
        long rowElements = t.shape().rowElements();
        long rowTargetBytes = rowElements * target.bytes();
        if (t.elements() == 0) {
            return true;
        }
        if (rowTargetBytes > Math.max(blockBytes, BLOCK_BYTES)) {
            throw new IllegalStateException("tensor " + t.name() + " has a row of " + rowTargetBytes
                    + " bytes; rows up to " + BLOCK_BYTES + " bytes are supported");
        }
        long blockRows = Math.max(1, blockBytes / rowTargetBytes);
        NDArray flat = t.shape().dims().length == 0 ? out.reshape(1) : out;
        for (long first = 0; first < rows; first += blockRows) {
            long n = Math.min(blockRows, rows - first);
            boolean whole = first == 0 && n == rows;
            // A leading-dimension slice of a contiguous array is a contiguous view of the same memory.
            NDArray block = whole ? flat : flat.get(new NDIndex("{}:{}", first, first + n));
            try {
                ByteBuffer view = block.toByteBuffer(true).order(ByteOrder.LITTLE_ENDIAN);
                long offset = first * rowElements * t.dtype().bytes();
                if (!copy(ref, offset, n * rowElements, view, target, out.getManager())) {
                    return false;
                }
            } finally {
                if (!whole) {
                    block.close();
                }
            }
        }
        if (flat != out) {
            flat.close();
        }
        return true;
    }

    /** Copies {@code count} elements from byte {@code offset} of the tensor into {@code view}. */
    private boolean copy(TensorRef ref, long offset, long count, ByteBuffer view, DType target, NDManager m) {
        TensorHeader t = ref.header();
        if (t.dtype() == target) {
            ref.file().readBytes(t, offset, view); // the file's bytes straight into libtorch's memory
            return true;
        }
        String where = ref.file().path() + " : " + t.name();
        int chunk = chunkBytes / Math.max(4, t.dtype().bytes());
        if (staging == null) {
            staging = ByteBuffer.allocateDirect(chunkBytes).order(ByteOrder.LITTLE_ENDIAN);
            floats = new float[chunkBytes / 4];
        }
        for (long done = 0; done < count; done += chunk) {
            int n = (int) Math.min(chunk, count - done);
            staging.clear().limit(n * t.dtype().bytes());
            ref.file().readBytes(t, offset + done * t.dtype().bytes(), staging);
            staging.flip();
            FloatCodec.decode(t.dtype(), staging, floats, 0, n, where);
            if (target == DType.F32) {
                view.asFloatBuffer().put(floats, 0, n);
                view.position(view.position() + n * 4);
            } else if (!putF16(floats, n, view, m)) {
                return false;
            }
        }
        return true;
    }

    /** Rounds {@code n} floats to FP16 in libtorch and appends them to {@code view}; false on overflow. */
    private static boolean putF16(float[] values, int n, ByteBuffer view, NDManager m) {
        for (int i = 0; i < n; i++) {
            if (Float.isFinite(values[i]) && Math.abs(values[i]) > F16_MAX) {
                return false;
            }
        }
        try (NDManager scope = m.newSubManager()) {
            NDArray f = scope.create(new Shape(n), DataType.FLOAT32); // libtorch memory, freed with the scope
            f.toByteBuffer(true).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(values, 0, n);
            view.put(f.toType(DataType.FLOAT16, true).toByteBuffer(true));
        }
        return true;
    }

    private static Shape shape(TensorHeader t) {
        return new Shape(t.shape().dims());
    }
}
