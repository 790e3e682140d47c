package dev.upcycle.runtime;

/**
 * Tokens grouped per expert. Slot {@code s = n·k + j} is token n's j-th choice; the slots of
 * expert e are {@code order[offsets[e] .. offsets[e+1])}, so computing expert e on its tokens
 * and concatenating the results in expert order gives rows in {@code order} order, and
 * {@code inverse} puts them back in slot order.
 *
 * @param order   slots sorted by expert (stable)
 * @param offsets E+1 boundaries into {@code order}
 * @param inverse position in {@code order} of each slot
 */
public record Dispatch(int[] order, int[] offsets, int[] inverse, int topK) {

    /** The token of every slot, in expert order: expert e's are {@code [offsets[e], offsets[e+1])}. */
    public long[] tokensInOrder() {
        long[] t = new long[order.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = order[i] / topK;
        }
        return t;
    }

    /** Every slot, in expert order. */
    public long[] slotsInOrder() {
        long[] s = new long[order.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = order[i];
        }
        return s;
    }

    /** The tokens expert {@code e} processes, ascending. */
    public long[] tokens(int e) {
        long[] t = new long[offsets[e + 1] - offsets[e]];
        for (int i = 0; i < t.length; i++) {
            t[i] = order[offsets[e] + i] / topK;
        }
        return t;
    }

    /** The slots of expert {@code e}. */
    public long[] slots(int e) {
        long[] s = new long[offsets[e + 1] - offsets[e]];
        for (int i = 0; i < s.length; i++) {
            s[i] = order[offsets[e] + i];
        }
        return s;
    }

    public int count(int e) {
        return offsets[e + 1] - offsets[e];
    }
}
