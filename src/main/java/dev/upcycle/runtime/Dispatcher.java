package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;

/**
 * Groups token slots per expert (a counting sort, O(N·k)) and combines the experts' outputs
 * back into token order: rows are gathered by index, never multiplied by one-hot matrices, so
 * the work grows with N·k and not with E.
 */
public final class Dispatcher {
    private Dispatcher() {
    }

    public static Dispatch group(long[] selected, int experts, int topK) {
        int slots = selected.length;
        int[] offsets = new int[experts + 1];
        for (long e : selected) {
            offsets[(int) e + 1]++;
        }
        for (int e = 0; e < experts; e++) {
            offsets[e + 1] += offsets[e];
        }
        int[] fill = offsets.clone();
        int[] order = new int[slots];
        int[] inverse = new int[slots];
        for (int s = 0; s < slots; s++) {
            int pos = fill[(int) selected[s]]++;
            order[pos] = s;
            inverse[s] = pos;
        }
        return new Dispatch(order, offsets, inverse, topK);
    }

    /**
     * @param all every slot's weighted expert output {@code [N·k, d]}, in expert order
     * @return {@code [N, d]}: for each token the sum over its k slots
     */
    public static NDArray combine(Dispatch d, NDArray all, long tokens, long hidden) {
        long[] inverse = new long[d.inverse().length];
        for (int i = 0; i < inverse.length; i++) {
            inverse[i] = d.inverse()[i];
        }
        NDArray slotOrder = all.get(all.getManager().create(inverse));
        return slotOrder.reshape(tokens, d.topK(), hidden).sum(new int[] {1});
    }
}
