package dev.upcycle.verify;

import dev.upcycle.moe.Fidelity;
import java.util.List;

/**
 * The weight-level provenance check: every output tensor against the value its plan gives it.
 *
 * @param planBasis   where the plan came from ({@code upcycle.json}, or both configs)
 * @param options     the plan's options in words (target, experts, routing, scaling, dtype)
 * @param fidelity    the plan's step-0 verdict, or null when no plan was found
 * @param checked     tensors compared, every byte
 * @param bytes       bytes compared
 * @param unchecked   tensors not compared, each with the reason
 * @param difference  the first differing tensor, or null
 * @param mismatch    why no plan fits the output (names, shapes, dtypes), or null
 * @param allCopies   every checked tensor is its source's values unchanged (copied, sliced, or scaled
 *                    by a power of two, in the source's dtype): the model computes on the dense
 *                    model's own values
 */
public record WeightResult(String planBasis, String options, Fidelity fidelity, int checked, long bytes,
                           List<Unchecked> unchecked, Difference difference, String mismatch, boolean allCopies) {

    public WeightResult {
        unchecked = List.copyOf(unchecked);
    }

    /** A tensor the check leaves alone, and why. */
    public record Unchecked(String tensor, String reason) {
    }

    /**
     * The first element whose value differs from the plan's.
     *
     * @param index    flat index into the tensor
     * @param position the same as one index per dimension
     * @param source   the plan's source of the tensor, in words
     */
    public record Difference(String tensor, long index, List<Long> position, double expected, double actual,
                             String source) {
        public Difference {
            position = List.copyOf(position);
        }
    }

    public boolean passed() {
        return difference == null && mismatch == null && fidelity != null;
    }
}
