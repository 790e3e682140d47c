package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

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
     * @param outputs each non-empty expert's weighted output {@code [n_e, d]}, in expert order
     * @return {@code [N, d]}: for each token the sum over its k slots
     */
    public static NDArray combine(Dispatch d, NDList outputs, long tokens, long hidden) {
        NDArray all = outputs.size() == 1 ? outputs.get(0) : NDArrays.concat(outputs);
        long[] inverse = new long[d.inverse().length];
        for (int i = 0; i < inverse.length; i++) {
            inverse[i] = d.inverse()[i];
        }
        NDArray slotOrder = all.get(all.getManager().create(inverse));
        return slotOrder.reshape(tokens, d.topK(), hidden).sum(new int[] {1});
    }
}
