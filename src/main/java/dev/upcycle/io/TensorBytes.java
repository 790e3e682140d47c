package dev.upcycle.io;

import java.nio.ByteBuffer;

/** Byte-level comparison of two stored tensors, in bounded memory. */
public final class TensorBytes {
    private static final int CHUNK = 1 << 20;

    private TensorBytes() {
    }

    /** True when both tensors have the same dtype, shape and bytes. */
    public static boolean equal(TensorRef a, TensorRef b) {
        TensorHeader ha = a.header();
        TensorHeader hb = b.header();
        if (ha.dtype() != hb.dtype() || !ha.shape().equals(hb.shape())) {
            return false;
        }
        long size = ha.byteSize();
        ByteBuffer ba = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(size, 1)));
        ByteBuffer bb = ByteBuffer.allocate(ba.capacity());
        for (long off = 0; off < size; off += ba.capacity()) {
            int len = (int) Math.min(ba.capacity(), size - off);
            ba.clear().limit(len);
            bb.clear().limit(len);
            a.file().readBytes(ha, off, ba);
            b.file().readBytes(hb, off, bb);
            ba.flip();
            bb.flip();
            if (!ba.equals(bb)) {
                return false;
            }
        }
        return true;
    }
}
