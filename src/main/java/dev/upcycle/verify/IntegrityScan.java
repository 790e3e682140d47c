package dev.upcycle.verify;

import dev.upcycle.convert.InputScan;
import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.LongConsumer;

/**
 * One read of every weight file serves the manifest's SHA-256 and the NaN/Inf scan, on two
 * threads: the calling thread reads 8 MiB chunks and counts non-finite values on their raw bits,
 * a second thread hashes the chunks it has read. SHA-256 is the slower of the two, so the pass runs
 * at about the speed of the hash alone.
 */
final class IntegrityScan {
    static final int CHUNK = 8 << 20;
    /** Chunks in flight between the reader and the hasher. */
    private static final int BUFFERS = 4;

    /**
     * @param digests   SHA-256 of each weight file, by path relative to the checkpoint directory
     *                  (empty when not asked for)
     * @param nonFinite NaN and Inf values per floating tensor scanned
     * @param unaligned floating tensors whose offset is not a multiple of their element size
     *                  (foreign writers): not scanned here
     */
    record Result(Map<String, FileDigest> digests, Map<String, Long> nonFinite, List<String> unaligned) {
    }

    private IntegrityScan() {
    }

    /**
     * @param hash     whether to compute each file's SHA-256
     * @param progress told the bytes read
     */
    static Result scan(Checkpoint ckpt, boolean hash, LongConsumer progress) {
        Path root = ckpt.directory().toAbsolutePath().normalize();
        Map<String, FileDigest> digests = new HashMap<>();
        Map<String, Long> nonFinite = new HashMap<>();
        List<String> unaligned = new ArrayList<>();
        BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
        for (int i = 0; i < BUFFERS; i++) {
            free.add(ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN));
        }
        for (SafetensorsFile f : ckpt.openFiles()) {
            List<TensorHeader> tensors = new ArrayList<>();
            for (TensorHeader t : f.tensors()) {
                if (!t.dtype().isFloat()) {
                    continue;
                }
                nonFinite.put(t.name(), 0L);
                if (t.begin() % t.dtype().bytes() != 0) {
                    unaligned.add(t.name());
                } else {
                    tensors.add(t);
                }
            }
            tensors.sort(Comparator.comparingLong(TensorHeader::begin));
            Hasher hasher = hash ? new Hasher(free, f.path().toString()) : null;
            long size = read(f, tensors, nonFinite, free, hasher, progress);
            if (hasher != null) {
                Path file = f.path().toAbsolutePath().normalize();
                String rel = root.relativize(file).toString().replace('\\', '/');
                digests.put(rel, new FileDigest(rel, size, hasher.finish()));
            }
        }
        return new Result(digests, nonFinite, unaligned);
    }

    private static long read(SafetensorsFile f, List<TensorHeader> tensors, Map<String, Long> nonFinite,
                             BlockingQueue<ByteBuffer> free, Hasher hasher, LongConsumer progress) {
        long pos = 0;
        int ti = 0;
        try (FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ)) {
            while (true) {
                Cancellation.check();
                ByteBuffer buf = take(free);
                int n = InputScan.readChunk(ch, buf, pos, f.dataStart());
                if (n == 0) {
                    free.add(buf);
                    break;
                }
                if (pos >= f.dataStart()) {
                    ti = count(buf, pos - f.dataStart(), tensors, ti, nonFinite);
                }
                pos += n;
                progress.accept(n);
                if (hasher != null) {
                    hasher.add(buf);
                } else {
                    free.add(buf);
                }
            }
        } catch (IOException e) {
            if (hasher != null) {
                hasher.abort();
            }
            throw new UpcycleException(ErrorKind.IoError, f.path().toString(), "cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            if (hasher != null) {
                hasher.abort();
            }
            throw e;
        }
        return pos;
    }

    /** Adds the non-finite values of the part of {@code buf} (at data offset {@code at}) that lies in each tensor. */
    private static int count(ByteBuffer buf, long at, List<TensorHeader> tensors, int ti, Map<String, Long> bad) {
        return InputScan.eachPart(buf, at, tensors, ti, (i, from, to) -> {
            TensorHeader t = tensors.get(i);
            long n = InputScan.count(buf, from, to, t.dtype());
            if (n > 0) {
                bad.merge(t.name(), n, Long::sum);
            }
        });
    }

    private static ByteBuffer take(BlockingQueue<ByteBuffer> q) {
        try {
            return q.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading", e);
        }
    }

    /** SHA-256 of one file on its own thread, fed the chunks in order; each chunk goes back to {@code free}. */
    private static final class Hasher {
        private static final ByteBuffer END = ByteBuffer.allocate(0);
        private final BlockingQueue<ByteBuffer> full = new ArrayBlockingQueue<>(BUFFERS + 1);
        private final BlockingQueue<ByteBuffer> free;
        private final MessageDigest md = sha256();
        private final Thread thread;
        private volatile Throwable failure;
        private volatile boolean aborted;

        Hasher(BlockingQueue<ByteBuffer> free, String file) {
            this.free = free;
            thread = new Thread(this::run, "verify-sha256");
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            try {
                while (true) {
                    ByteBuffer b = full.take();
                    if (b == END) {
                        return;
                    }
                    if (!aborted) {
                        md.update(b);
                    }
                    free.add(b);
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        void add(ByteBuffer b) {
            full.add(b);
        }

        void abort() {
            aborted = true;
            full.add(END);
        }

        String finish() {
            full.add(END);
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while hashing", e);
            }
            if (failure != null) {
                throw new IllegalStateException("hashing failed", failure);
            }
            return HexFormat.of().formatHex(md.digest());
        }

        private static MessageDigest sha256() {
            try {
                return MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("the JVM has no SHA-256", e);
            }
        }
    }
}
