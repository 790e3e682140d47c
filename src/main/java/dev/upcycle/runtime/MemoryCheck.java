package dev.upcycle.runtime;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/** Refuses a run whose {@link MemoryEstimate} exceeds what {@link MemoryAvailable} reports, before anything is loaded. */
public final class MemoryCheck {
    private MemoryCheck() {
    }

    /**
     * @param where   the model directory, for the message
     * @param smaller what the user can lower, e.g. "--batch or --seq-len"
     * @throws UpcycleException OutOfMemory (exit 4) naming what is needed, what is available and what to change
     */
    public static void require(String where, MemoryEstimate need, MemoryAvailable have, String smaller) {
        if (need.nativeBytes() > have.nativeBytes()) {
            long fixed = need.nativeBytes() - need.kvCache() - need.activations();
            throw new UpcycleException(ErrorKind.OutOfMemory, where, "needs about " + need.describe()
                    + ", but " + MemoryEstimate.gb(have.nativeBytes()) + " is available (" + have.source() + ")",
                    fixed > have.nativeBytes()
                            ? "the model alone needs " + MemoryEstimate.gb(fixed) + " whatever the settings: free memory "
                                    + "or use a machine with more"
                            : "lower " + smaller + ", free memory, or use a machine with more");
        }
        if (need.heap() > have.heapBytes()) {
            long gib = (need.heap() + Runtime.getRuntime().totalMemory() + (1L << 30) - 1) >> 30;
            throw new UpcycleException(ErrorKind.OutOfMemory, where, "needs about " + MemoryEstimate.gb(need.heap())
                    + " of Java heap, but " + MemoryEstimate.gb(have.heapBytes()) + " is left",
                    "raise the heap limit, e.g. UPCYCLE_JAVA_OPTS=-Xmx" + (gib + 1) + "g for scripts/upcycle "
                            + "(java -Xmx" + (gib + 1) + "g), or lower " + smaller);
        }
    }
}
