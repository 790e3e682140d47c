package dev.upcycle.convert;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * One sequential pass over each input weight file: its SHA-256 for {@code upcycle.json}, and the
 * number of NaN/Inf values per floating tensor (refused by default: docs/formats.md, "Rejected inputs",
 * row 34), checked on the raw bits so no value is decoded.
 */
public final class InputScan {
    private static final int CHUNK = 8 << 20;

    /** The first tensor with non-finite values, and how many it has. */
    record NonFinite(String file, String tensor, long count) {
    }

    record Result(List<FileDigest> digests, NonFinite firstNonFinite) {
    }

    private InputScan() {
    }

    static Result scan(List<SafetensorsFile> files, boolean checkValues) {
        List<FileDigest> digests = new ArrayList<>();
        NonFinite first = null;
        ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (SafetensorsFile f : files) {
            Result r = scanFile(f, checkValues, buf);
            digests.addAll(r.digests());
            first = first == null ? r.firstNonFinite() : first;
        }
        return new Result(digests, first);
    }

    /**
     * The inputs of a conversion, {@code seeds.get(i)} the files of seed i, scanned file by file
     * on up to {@code threads} threads. The outcome is that of scanning the seeds one after another
     * and stopping after the first seed with non-finite values: the results up to that seed, or the
     * error the first failing file of the first failing seed in that order throws.
     */
    static List<Result> scanAll(List<List<SafetensorsFile>> seeds, boolean checkValues, int threads) {
        List<SafetensorsFile> all = new ArrayList<>();
        seeds.forEach(all::addAll);
        if (threads <= 1 || all.size() <= 1) {
            List<Result> out = new ArrayList<>();
            for (List<SafetensorsFile> files : seeds) {
                out.add(scan(files, checkValues));
                if (out.get(out.size() - 1).firstNonFinite() != null) {
                    break;
                }
            }
            return out;
        }
        ThreadLocal<ByteBuffer> bufs = ThreadLocal.withInitial(
                () -> ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN));
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, all.size()), r -> {
            Thread t = new Thread(r, "upcycle-scan");
            t.setDaemon(true);
            return t;
        });
        List<Future<Result>> futures = new ArrayList<>();
        try {
            for (SafetensorsFile f : all) {
                futures.add(pool.submit(() -> scanFile(f, checkValues, bufs.get())));
            }
            List<Result> out = new ArrayList<>();
            int next = 0;
            for (List<SafetensorsFile> files : seeds) {
                List<FileDigest> digests = new ArrayList<>();
                NonFinite first = null;
                for (int i = 0; i < files.size(); i++) {
                    Result r = OrderedChunks.result(futures.get(next++));
                    digests.addAll(r.digests());
                    first = first == null ? r.firstNonFinite() : first;
                }
                out.add(new Result(digests, first));
                if (first != null) {
                    break;
                }
            }
            return out;
        } finally {
            // Nothing reads a file once this returns: files not started are dropped, the others finish.
            futures.forEach(f -> f.cancel(false));
            pool.shutdown();
            boolean interrupted = false;
            while (true) {
                try {
                    if (pool.awaitTermination(1, TimeUnit.MINUTES)) {
                        break;
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One file's digest and its first tensor with non-finite values (null when none or not checked). */
    private static Result scanFile(SafetensorsFile f, boolean checkValues, ByteBuffer buf) {
        List<FileDigest> digests = new ArrayList<>();
        NonFinite first = null;
        MessageDigest md = sha256();
        List<TensorHeader> tensors = new ArrayList<>(f.tensors());
        tensors.sort(Comparator.comparingLong(TensorHeader::begin));
        long[] bad = new long[tensors.size()];
        long pos = 0;
        int ti = 0;
        try (FileChannel ch = FileChannel.open(f.path(), StandardOpenOption.READ)) {
            while (true) {
                Cancellation.check();
                int n = readChunk(ch, buf, pos, f.dataStart());
                if (n == 0) {
                    break;
                }
                if (checkValues && pos >= f.dataStart()) {
                    ti = check(buf, pos - f.dataStart(), tensors, ti, bad);
                }
                md.update(buf.rewind());
                pos += n;
            }
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, f.path().toString(), "cannot read: " + e.getMessage());
        }
        digests.add(new FileDigest(f.path().getFileName().toString(), pos,
                HexFormat.of().formatHex(md.digest())));
        for (int i = 0; i < bad.length && checkValues; i++) {
            TensorHeader t = tensors.get(i);
            if (t.dtype().kind() == DType.Kind.FLOAT && t.begin() % t.dtype().bytes() != 0) {
                bad[i] = f.countNonFinite(t.name()); // written by a foreign writer without alignment
            }
        }
        for (int i = 0; i < bad.length && first == null; i++) {
            if (bad[i] > 0) {
                first = new NonFinite(f.path().getFileName().toString(), tensors.get(i).name(), bad[i]);
            }
        }
        return new Result(digests, first);
    }

    /** Scans the part of {@code buf} (starting at data offset {@code at}) that lies in floating tensors. */
    private static int check(ByteBuffer buf, long at, List<TensorHeader> tensors, int ti, long[] bad) {
        return eachPart(buf, at, tensors, ti, (i, from, to) -> {
            TensorHeader t = tensors.get(i);
            if (t.dtype().kind() == DType.Kind.FLOAT && t.begin() % t.dtype().bytes() == 0) {
                bad[i] += count(buf, from, to, t.dtype());
            }
        });
    }

    /** Bytes {@code [from, to)} of a chunk that belong to tensor {@code index}. */
    @FunctionalInterface
    public interface Part {
        void accept(int index, int from, int to);
    }

    /**
     * Calls {@code part} for each tensor (sorted by offset) with bytes in the chunk {@code buf},
     * which starts at data offset {@code at}; {@code ti} is the first tensor that may reach this
     * chunk, and the return value the one for the next chunk. verify's integrity scan walks its
     * chunks the same way.
     */
    public static int eachPart(ByteBuffer buf, long at, List<TensorHeader> tensors, int ti, Part part) {
        long end = at + buf.limit();
        while (ti < tensors.size() && tensors.get(ti).end() <= at) {
            ti++;
        }
        for (int i = ti; i < tensors.size() && tensors.get(i).begin() < end; i++) {
            TensorHeader t = tensors.get(i);
            long from = Math.max(t.begin(), at);
            long to = Math.min(t.end(), end);
            if (to > from) {
                part.accept(i, (int) (from - at), (int) (to - at));
            }
        }
        return ti;
    }

    /**
     * Reads the chunk of a safetensors file that starts at {@code pos} into {@code buf} (cleared,
     * then flipped for reading) and returns its length, 0 at the end. The first read ends at the
     * data start, so later chunks begin at data offsets that are multiples of the buffer's
     * capacity and never split an aligned element (verify's integrity scan reads with it too).
     */
    public static int readChunk(FileChannel ch, ByteBuffer buf, long pos, long dataStart) throws IOException {
        int chunk = buf.capacity();
        buf.clear().limit(pos < dataStart ? (int) Math.min(chunk, dataStart - pos) : chunk);
        int n = 0;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + n);
            if (r < 0) {
                break;
            }
            n += r;
        }
        buf.flip();
        return n;
    }

    /**
     * NaN and Inf values among the {@code d} elements in bytes {@code [from, to)} of {@code b},
     * read as raw bits (verify's integrity scan counts with it too).
     */
    public static long count(ByteBuffer b, int from, int to, DType d) {
        return switch (d) {
            case BF16 -> count16(b, from, to, 0x7F80);
            case F16 -> count16(b, from, to, 0x7C00);
            case F32 -> {
                long bad = 0;
                for (int i = from; i + 4 <= to; i += 4) {
                    bad += (b.getInt(i) & 0x7F800000) == 0x7F800000 ? 1 : 0;
                }
                yield bad;
            }
            case F64 -> {
                long bad = 0;
                for (int i = from; i + 8 <= to; i += 8) {
                    bad += (b.getLong(i) & 0x7FF0000000000000L) == 0x7FF0000000000000L ? 1 : 0;
                }
                yield bad;
            }
            default -> 0;
        };
    }

    /**
     * 16-bit floats four at a time: a value is NaN or Inf iff its exponent field equals
     * {@code exp}. {@code v = (x & E) ^ E} has a zero 16-bit lane exactly there; bit 15 of every
     * lane of v is 0 and a lane is at most 0x7F80, so adding 0x7FFF to each lane carries into
     * bit 15 exactly when the lane is not zero, and never into the next lane. The lanes whose bit
     * 15 stays clear are counted with one bit count per word, without branches; reading through
     * a long view of the buffer lets the JIT drop most per-read checks.
     */
    private static long count16(ByteBuffer b, int from, int to, int exp) {
        long e = exp & 0xFFFFL;
        long mask = e | e << 16 | e << 32 | e << 48;
        int words = (to - from) / 8;
        LongBuffer w = b.duplicate().clear().position(from).limit(from + 8 * words).slice()
                .order(b.order()).asLongBuffer();
        long bad = 0;
        for (int j = 0; j < words; j++) {
            long v = (w.get(j) & mask) ^ mask;
            bad += Long.bitCount(~(v + 0x7FFF7FFF7FFF7FFFL) & 0x8000800080008000L);
        }
        for (int i = from + 8 * words; i + 2 <= to; i += 2) {
            bad += (b.getShort(i) & exp) == exp ? 1 : 0;
        }
        return bad;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
