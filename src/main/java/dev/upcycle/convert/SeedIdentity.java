package dev.upcycle.convert;

import dev.upcycle.error.Cancellation;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.io.TensorRef;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;

/**
 * Whether the seeds of a merge hold byte-identical tensors, so that the merge is one dense function
 * copied into every expert and its verdict can say so. Headers cannot tell, so this reads bytes:
 * the same directory given twice costs nothing, differing seeds usually stop at the first chunk,
 * and only truly identical copies are read in full (1 MiB at a time, whatever the model size).
 */
final class SeedIdentity {
    private SeedIdentity() {
    }

    /** True for two or more seeds whose tensors all have the same names, dtypes, shapes and bytes. */
    static boolean identical(List<SourceModel> seeds) {
        if (seeds.size() < 2) {
            return false;
        }
        Checkpoint first = seeds.get(0).checkpoint();
        for (SourceModel seed : seeds.subList(1, seeds.size())) {
            if (!sameTensors(first, seed.checkpoint())) {
                return false;
            }
        }
        return true;
    }

    private static boolean sameTensors(Checkpoint a, Checkpoint b) {
        if (sameDirectory(a, b)) {
            return true;
        }
        if (!a.tensors().keySet().equals(b.tensors().keySet())) {
            return false;
        }
        for (TensorRef t : a.tensors().values()) {
            Cancellation.check();
            if (!TensorBytes.equal(t, b.tensor(t.name()))) {
                return false;
            }
        }
        return true;
    }

    private static boolean sameDirectory(Checkpoint a, Checkpoint b) {
        try {
            return Files.isSameFile(a.directory(), b.directory());
        } catch (IOException e) {
            return false; // compare the bytes instead
        }
    }
}
