package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One open safetensors file: the validated header in memory, the data read on demand with
 * positional reads, so any number of tensors of any size can be read in bounded memory.
 * Offsets are longs everywhere; only the methods returning a single Java buffer or array are
 * limited to 2 GiB, and they say so.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest buffer or array the JVM reliably allocates. */
    public static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 16;
    /** Chunk size for bounded-memory scans. */
    static final int CHUNK_BYTES = 8 << 20;

    private final Path path;
    private final String where;
    private final FileChannel channel;
    private final long fileSize;
    private final long dataStart;
    private final Map<String, String> metadata;
    private final List<TensorHeader> tensors;
    private final Map<String, TensorHeader> byName;

    private SafetensorsFile(Path path, FileChannel channel, long fileSize, long dataStart,
                            HeaderParser.Parsed parsed) {
        this.path = path;
        this.where = path.toString();
        this.channel = channel;
        this.fileSize = fileSize;
        this.dataStart = dataStart;
        this.metadata = parsed.metadata();
        this.tensors = parsed.tensors();
        Map<String, TensorHeader> m = new LinkedHashMap<>();
        for (TensorHeader t : tensors) {
            m.put(t.name(), t);
        }
        this.byName = Collections.unmodifiableMap(m);
    }

    /**
     * Opens and validates a file; reads only the 8-byte length and the header.
     *
     * @throws UpcycleException a header error of docs/formats.md, "Rejected inputs", or IoError
     */
    public static SafetensorsFile open(Path file) {
        String where = file.toString();
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw io(where, "cannot open: " + e);
        }
        try {
            long size = size(ch, where);
            if (size < 8) {
                throw new UpcycleException(ErrorKind.HeaderTooSmall, where,
                        "file has " + size + " bytes, fewer than the 8-byte header length");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0, where);
            long n = len.flip().getLong();
            // Checked before allocating anything of size N.
            HeaderParser.checkLength(n, size, where);
            ByteBuffer header = ByteBuffer.allocate((int) n);
            readFully(ch, header, 8, where);
            HeaderParser.Parsed parsed = HeaderParser.parse(header.array(), size, where);
            return new SafetensorsFile(file, ch, size, 8 + n, parsed);
        } catch (RuntimeException e) {
            closeAfterFailure(ch, e);
            throw e;
        }
    }

    private static void closeAfterFailure(FileChannel ch, RuntimeException e) {
        try {
            ch.close();
        } catch (IOException c) {
            e.addSuppressed(c);
        }
    }

    public Path path() {
        return path;
    }

    public long fileSize() {
        return fileSize;
    }

    /** Offset of the data buffer: 8 + N. */
    public long dataStart() {
        return dataStart;
    }

    /** The {@code __metadata__} entries in file order (unmodifiable, empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** All tensors in offset order. */
    public List<TensorHeader> tensors() {
        return tensors;
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** @throws UpcycleException TensorNotFound */
    public TensorHeader tensor(String name) {
        TensorHeader t = byName.get(name);
        if (t == null) {
            throw new UpcycleException(ErrorKind.TensorNotFound, TensorNames.where(where, name),
                    "no tensor of that name in this file (" + tensors.size() + " tensors)");
        }
        return t;
    }

    /**
     * Fills {@code dst} with the tensor's bytes starting at {@code offsetInTensor}.
     *
     * @throws IllegalArgumentException when the range lies outside the tensor or the header
     *                                  belongs to another file
     */
    public void readBytes(TensorHeader t, long offsetInTensor, ByteBuffer dst) {
        requireOwn(t);
        long count = dst.remaining();
        if (offsetInTensor < 0 || offsetInTensor > t.byteSize() - count) {
            throw new IllegalArgumentException("range [" + offsetInTensor + ", +" + count + ") outside tensor "
                    + t.name() + " of " + t.byteSize() + " bytes");
        }
        checkUnchanged();
        readFully(channel, dst, dataStart + t.begin() + offsetInTensor, where);
    }

    /**
     * Reads bytes {@code [offsetInTensor, offsetInTensor + count)} of {@code t} through {@code buf},
     * a buffer's worth at a time, and hands each chunk to {@code each} ready to read (the sinks that
     * cannot copy channel to channel consume a copy this way).
     */
    public void readChunks(TensorHeader t, long offsetInTensor, long count, ByteBuffer buf,
                           java.util.function.Consumer<ByteBuffer> each) {
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(buf.capacity(), count - done);
            buf.clear().limit(n);
            readBytes(t, offsetInTensor + done, buf);
            each.accept(buf.flip());
            done += n;
        }
    }

    /** Checks that {@code [offsetInTensor, offsetInTensor + count)} lies in {@code t}, a tensor of this file. */
    void requireRange(TensorHeader t, long offsetInTensor, long count) {
        requireOwn(t);
        if (offsetInTensor < 0 || count < 0 || offsetInTensor > t.byteSize() - count) {
            throw new IllegalArgumentException("range [" + offsetInTensor + ", +" + count + ") outside tensor "
                    + t.name() + " of " + t.byteSize() + " bytes");
        }
    }

    /** The whole tensor in a little-endian heap buffer (tensors up to {@link #MAX_ARRAY_BYTES}). */
    public ByteBuffer read(String name) {
        TensorHeader t = tensor(name);
        ByteBuffer b = allocate(t, t.byteSize(), "read");
        readBytes(t, 0, b);
        return b.flip();
    }

    /** Rows {@code [firstRow, firstRow + rowCount)} along the first dimension, little-endian. */
    public ByteBuffer readRows(String name, long firstRow, long rowCount) {
        TensorHeader t = tensor(name);
        long rowBytes = rowBytes(t);
        checkRows(t, firstRow, rowCount);
        ByteBuffer b = allocate(t, rowCount * rowBytes, "readRows");
        readBytes(t, firstRow * rowBytes, b);
        return b.flip();
    }

    /**
     * Copies the tensor's bytes to {@code out} channel-to-channel (no heap buffer), for tensors
     * of any size.
     *
     * @return the number of bytes transferred, always the tensor's byte size
     */
    public long transferTo(String name, WritableByteChannel out) {
        return transferTo(tensor(name), out);
    }

    /** As {@link #transferTo(String, WritableByteChannel)}, for a header of this file. */
    public long transferTo(TensorHeader t, WritableByteChannel out) {
        return transferTo(t, 0, t.byteSize(), out);
    }

    /**
     * Copies bytes {@code [offsetInTensor, offsetInTensor + count)} of the tensor to {@code out}
     * channel-to-channel (e.g. contiguous rows of a matrix).
     *
     * @return {@code count}
     */
    public long transferTo(TensorHeader t, long offsetInTensor, long count, WritableByteChannel out) {
        requireOwn(t);
        if (offsetInTensor < 0 || count < 0 || offsetInTensor > t.byteSize() - count) {
            throw new IllegalArgumentException("range [" + offsetInTensor + ", +" + count + ") outside tensor "
                    + t.name() + " of " + t.byteSize() + " bytes");
        }
        long pos = dataStart + t.begin() + offsetInTensor;
        long remaining = count;
        try {
            while (remaining > 0) {
                checkUnchanged();
                long n = channel.transferTo(pos, remaining, out);
                if (n <= 0) {
                    // transferTo returns 0 at end of file: the file shrank under us, or the
                    // target refuses bytes; either way looping would hang.
                    throw io(TensorNames.where(where, t.name()),
                            "no progress copying at offset " + pos + " (" + remaining + " bytes left)");
                }
                pos += n;
                remaining -= n;
            }
        } catch (IOException e) {
            throw io(TensorNames.where(where, t.name()), "copy failed at offset " + pos + ": " + e.getMessage());
        }
        return count;
    }

    /** All values as floats (F64, F32, F16, BF16); at most {@link #MAX_ARRAY_BYTES}/4 elements. */
    public float[] readFloats(String name) {
        TensorHeader t = tensor(name);
        return readRowsAsFloats(name, 0, t.shape().rows());
    }

    /** Rows {@code [firstRow, firstRow + rowCount)} as floats. */
    public float[] readRowsAsFloats(String name, long firstRow, long rowCount) {
        TensorHeader t = tensor(name);
        checkRows(t, firstRow, rowCount);
        long rowElements = t.shape().rowElements();
        long count = rowCount * rowElements;
        if (count > MAX_ARRAY_BYTES / 4) {
            throw new IllegalArgumentException("tensor " + t.name() + ": " + count
                    + " elements do not fit in one float[]; use floatCursor to scan it in chunks");
        }
        float[] out = new float[(int) count];
        try (FloatCursor c = floatCursor(name, firstRow * rowElements, count)) {
            int off = 0;
            while (off < out.length) {
                off += c.read(out, off, out.length - off);
            }
        }
        return out;
    }

    /**
     * A bounded-memory reader of elements {@code [firstElement, firstElement + count)} as floats,
     * for tensors of any size.
     */
    public FloatCursor floatCursor(String name, long firstElement, long count) {
        TensorHeader t = tensor(name);
        FloatCodec.requireFloat(t.dtype(), TensorNames.where(where, name));
        if (firstElement < 0 || count < 0 || firstElement > t.elements() - count) {
            throw new IllegalArgumentException("elements [" + firstElement + ", +" + count + ") outside tensor "
                    + name + " of " + t.elements() + " elements");
        }
        return new FloatCursor(this, t, firstElement, count, CHUNK_BYTES);
    }

    /** A cursor over every element of the tensor. */
    public FloatCursor floatCursor(String name) {
        return floatCursor(name, 0, tensor(name).elements());
    }

    /** Number of NaN and infinite values, scanned in {@link #CHUNK_BYTES} chunks. */
    public long countNonFinite(String name) {
        long bad = 0;
        float[] chunk = new float[CHUNK_BYTES / 4];
        try (FloatCursor c = floatCursor(name)) {
            while (c.remaining() > 0) {
                int n = c.read(chunk, 0, chunk.length);
                for (int i = 0; i < n; i++) {
                    if (!Float.isFinite(chunk[i])) {
                        bad++;
                    }
                }
            }
        }
        return bad;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw io(where, "close failed: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }

    // ---- helpers

    private void requireOwn(TensorHeader t) {
        if (!t.equals(byName.get(t.name()))) {
            throw new IllegalArgumentException("tensor header " + t.name() + " does not belong to " + path);
        }
    }

    private static long rowBytes(TensorHeader t) {
        return t.shape().rowElements() * t.dtype().bytes();
    }

    private static void checkRows(TensorHeader t, long firstRow, long rowCount) {
        long rows = t.shape().rows();
        if (firstRow < 0 || rowCount < 0 || firstRow > rows - rowCount) {
            throw new IllegalArgumentException("rows [" + firstRow + ", +" + rowCount + ") outside tensor "
                    + t.name() + " with " + rows + " rows");
        }
    }

    private ByteBuffer allocate(TensorHeader t, long bytes, String what) {
        if (bytes > MAX_ARRAY_BYTES) {
            throw new IllegalArgumentException(what + " of tensor " + t.name() + " in " + path + " needs " + bytes
                    + " bytes, more than one Java buffer holds (" + MAX_ARRAY_BYTES
                    + "); use readRows in smaller pieces, floatCursor or transferTo");
        }
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Rejected input (docs/formats.md, "Rejected inputs", row 36): a file that changes under us must
     * not be half-read.
     */
    void checkUnchanged() {
        long now = size(channel, where);
        if (now != fileSize) {
            throw io(where, "file changed size since it was opened (" + fileSize + " -> " + now
                    + " bytes); another process is writing it");
        }
    }

    String where() {
        return where;
    }

    private static long size(FileChannel ch, String where) {
        try {
            return ch.size();
        } catch (IOException e) {
            throw io(where, "cannot stat: " + e.getMessage());
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long pos, String where) {
        try {
            while (dst.hasRemaining()) {
                int n = ch.read(dst, pos);
                if (n < 0) {
                    throw io(where, "unexpected end of file at offset " + pos);
                }
                pos += n;
            }
        } catch (IOException e) {
            throw io(where, "read failed at offset " + pos + ": " + e.getMessage());
        }
    }

    private static UpcycleException io(String where, String why) {
        return new UpcycleException(ErrorKind.IoError, where, why);
    }
}
