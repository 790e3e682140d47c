package dev.upcycle.convert;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.SafetensorsFile;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The input scan ({@link InputScan}) on a thread of its own, so it runs while the weights are
 * written: both are bound by different cores (the scan hashes the inputs, the writer the output).
 * Its outcome counts as if it had run first: its error, if any, is the conversion's error, whatever
 * else failed meanwhile, and the conversion stops at the next tensor once it is known.
 */
final class BackgroundScan {
    private final CompletableFuture<List<FileDigest>> result;

    private BackgroundScan(CompletableFuture<List<FileDigest>> result) {
        this.result = result;
    }

    /**
     * Starts scanning {@code seeds.get(i)}, the files of seed i.
     *
     * @param checkValues refuse NaN and Inf (a NonFiniteWeights error)
     */
    static BackgroundScan start(List<List<SafetensorsFile>> seeds, boolean checkValues, int threads) {
        CompletableFuture<List<FileDigest>> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                f.complete(digests(InputScan.scanAll(seeds, checkValues, threads)));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, "upcycle-input-scan");
        t.setDaemon(true);
        t.start();
        return new BackgroundScan(f);
    }

    /** The inputs' digests (those of seed i prefixed with {@code seed<i>/}), or the error of the first bad seed. */
    private static List<FileDigest> digests(List<InputScan.Result> scans) {
        List<FileDigest> inputs = new ArrayList<>();
        for (int i = 0; i < scans.size(); i++) {
            InputScan.Result scan = scans.get(i);
            if (scan.firstNonFinite() != null) {
                InputScan.NonFinite bad = scan.firstNonFinite();
                throw new UpcycleException(ErrorKind.NonFiniteWeights, bad.file() + " (tensor " + bad.tensor() + ")",
                        bad.count() + " NaN or infinite values", "pass --allow-nonfinite to convert anyway");
            }
            String prefix = i == 0 ? "" : "seed" + i + "/";
            scan.digests().forEach(d -> inputs.add(new FileDigest(prefix + d.path(), d.size(), d.sha256())));
        }
        return inputs;
    }

    /** Throws the scan's error if it has already failed; returns at once otherwise. */
    void throwIfFailed() {
        if (result.isCompletedExceptionally()) {
            await();
        }
    }

    /** Waits for the scan; returns the digests or throws its error. */
    List<FileDigest> await() {
        return OrderedChunks.result(result);
    }

    /**
     * The error to report for {@code e}, thrown while the scan ran: once the scan has finished,
     * its own error if it failed (it would have been reported first), else {@code e}.
     */
    RuntimeException firstError(RuntimeException e) {
        try {
            await();
        } catch (RuntimeException scanError) {
            return scanError;
        }
        return e;
    }
}
