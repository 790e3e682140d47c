package dev.upcycle.data;

/**
 * Training windows drawn from one token array in an order fixed by the seed: window {@code i}
 * starts at {@code splitmix64(seed, i) mod (n - seqLen)}, so the whole data order is a function
 * of the seed and the stream position is one number ({@link #position()}), saved in checkpoints
 * and restored on resume. Each window holds {@code seqLen + 1} tokens: inputs and the targets
 * shifted by one.
 */
public final class Batcher {
    private final int[] tokens;
    private final int seqLen;
    private final long seed;
    private long position;

    public Batcher(int[] tokens, int seqLen, long seed, long position) {
        if (tokens.length < seqLen + 1) {
            throw new IllegalArgumentException("need at least seq-len + 1 = " + (seqLen + 1) + " tokens, got "
                    + tokens.length);
        }
        this.tokens = tokens;
        this.seqLen = seqLen;
        this.seed = seed;
        this.position = position;
    }

    /** A batch of inputs and targets, both {@code [batch][seqLen]} flattened row-major. */
    public record Batch(int[] inputs, int[] targets, int rows, int seqLen) {
    }

    public Batch next(int batch) {
        int[] in = new int[batch * seqLen];
        int[] target = new int[batch * seqLen];
        long starts = tokens.length - seqLen;
        for (int b = 0; b < batch; b++) {
            int start = (int) Long.remainderUnsigned(mix(seed, position++), starts);
            System.arraycopy(tokens, start, in, b * seqLen, seqLen);
            System.arraycopy(tokens, start + 1, target, b * seqLen, seqLen);
        }
        return new Batch(in, target, batch, seqLen);
    }

    /** Windows drawn so far. */
    public long position() {
        return position;
    }

    /** SplitMix64 of the seed-offset counter (Steele, Lea and Flood). */
    static long mix(long seed, long index) {
        long z = seed * 0x9E3779B97F4A7C15L + (index + 1) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
