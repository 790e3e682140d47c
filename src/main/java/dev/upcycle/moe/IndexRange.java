package dev.upcycle.moe;

/**
 * A half-open range {@code [start, end)} of dense neuron indices (rows of gate/up, columns of
 * down).
 */
public record IndexRange(int start, int end) {

    public IndexRange {
        if (start < 0 || end < start) {
            throw new IllegalArgumentException("bad range [" + start + ", " + end + ")");
        }
    }

    public static IndexRange empty() {
        return new IndexRange(0, 0);
    }

    public int length() {
        return end - start;
    }

    public boolean isEmpty() {
        return start == end;
    }

    public boolean contains(int i) {
        return i >= start && i < end;
    }

    @Override
    public String toString() {
        return "[" + start + ", " + end + ")";
    }
}
