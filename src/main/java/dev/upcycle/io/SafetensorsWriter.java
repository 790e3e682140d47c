package dev.upcycle.io;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes one safetensors file the way the reference writer does (docs/formats.md, "Writing"): widest
 * dtype first, then names byte-wise; contiguous offsets; compact header with
 * {@code __metadata__} first, padded with spaces to a multiple of 8. The file appears
 * atomically: it is written to {@code .<name>.tmp} next to the target, forced, then renamed.
 */
public final class SafetensorsWriter {
    private SafetensorsWriter() {
    }

    /**
     * Everything known before any data exists.
     *
     * @param tensors    specs in file order
     * @param headers    the same with their offsets, in file order
     * @param header     header bytes including padding; its length is N
     * @param dataSize   bytes of tensor data
     */
    public record Layout(List<TensorSpec> tensors, List<TensorHeader> headers, byte[] header, long dataSize) {
        public Layout {
            tensors = List.copyOf(tensors);
            headers = List.copyOf(headers);
            header = header.clone();
        }

        @Override
        public byte[] header() {
            return header.clone();
        }

        /** Total file size: 8 + N + data. */
        public long fileSize() {
            return 8L + header.length + dataSize;
        }
    }

    /** Orders bytes of UTF-8 names as the reference (Rust {@code String} ordering) does. */
    static final Comparator<String> BYTEWISE = (a, b) -> Arrays.compareUnsigned(
            a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

    /**
     * Computes order, offsets and header; metadata is {@code {"format":"pt"}} plus
     * {@code extraMetadata}, keys sorted.
     *
     * @throws UpcycleException InvalidTensorName, DuplicateTensorName, UnsupportedDtype,
     *                          HeaderTooLarge
     */
    public static Layout layout(List<TensorSpec> tensors, Map<String, String> extraMetadata) {
        return layout(tensors, extraMetadata, "safetensors layout");
    }

    static Layout layout(List<TensorSpec> tensors, Map<String, String> extraMetadata, String where) {
        Map<String, String> metadata = new TreeMap<>(BYTEWISE);
        metadata.putAll(extraMetadata);
        String format = metadata.put("format", "pt");
        if (format != null && !format.equals("pt")) {
            throw new IllegalArgumentException("metadata \"format\" is always \"pt\", got \"" + format + "\"");
        }
        return layoutRaw(tensors, metadata, where);
    }

    /** Layout with exactly {@code metadata} (null: no {@code __metadata__} at all), for tests. */
    static Layout layoutRaw(List<TensorSpec> tensors, Map<String, String> metadata, String where) {
        List<TensorSpec> order = new ArrayList<>(tensors);
        Set<String> names = new HashSet<>();
        for (TensorSpec s : order) {
            TensorNames.check(s.name(), where);
            if (s.name().equals(HeaderParser.METADATA_KEY)) {
                throw new UpcycleException(ErrorKind.InvalidTensorName, where, "\"__metadata__\" is reserved");
            }
            if (!s.dtype().isWritable()) {
                throw new UpcycleException(ErrorKind.UnsupportedDtype, TensorNames.where(where, s.name()),
                        "dtype " + s.dtype() + " is not written by this tool (F32, F16, BF16 only)");
            }
            if (!names.add(s.name())) {
                throw new UpcycleException(ErrorKind.DuplicateTensorName, TensorNames.where(where, s.name()),
                        "tensor name given twice");
            }
        }
        order.sort(Comparator.comparing((TensorSpec s) -> s.dtype().ordinal())
                .thenComparing(TensorSpec::name, BYTEWISE));

        StringBuilder json = new StringBuilder("{");
        if (metadata != null) {
            json.append(JsonText.quote(HeaderParser.METADATA_KEY)).append(":{");
            String sep = "";
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!TensorNames.wellFormedUtf16(e.getKey()) || !TensorNames.wellFormedUtf16(e.getValue())) {
                    throw new UpcycleException(ErrorKind.InvalidMetadata, where,
                            "metadata entry \"" + e.getKey() + "\" has a lone surrogate");
                }
                json.append(sep).append(JsonText.quote(e.getKey())).append(':').append(JsonText.quote(e.getValue()));
                sep = ",";
            }
            json.append('}');
        }
        List<TensorHeader> headers = new ArrayList<>(order.size());
        long offset = 0;
        for (TensorSpec s : order) {
            long size = s.byteSize();
            long end;
            try {
                end = Math.addExact(offset, size);
            } catch (ArithmeticException e) {
                throw new UpcycleException(ErrorKind.ValidationOverflow, where, "total tensor bytes overflow 64 bits");
            }
            headers.add(new TensorHeader(s.name(), s.dtype(), s.shape(), offset, end));
            if (json.length() > 1) {
                json.append(',');
            }
            json.append(JsonText.quote(s.name())).append(":{\"dtype\":\"").append(s.dtype().safetensorsName())
                    .append("\",\"shape\":[");
            long[] dims = s.shape().dims();
            for (int i = 0; i < dims.length; i++) {
                json.append(i == 0 ? "" : ",").append(dims[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        byte[] raw = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (raw.length + 7) & ~7;
        if (padded > HeaderParser.MAX_HEADER_BYTES) {
            throw new UpcycleException(ErrorKind.HeaderTooLarge, where,
                    "header would be " + padded + " bytes, over the limit of " + HeaderParser.MAX_HEADER_BYTES);
        }
        byte[] header = Arrays.copyOf(raw, padded);
        Arrays.fill(header, raw.length, padded, (byte) ' ');
        return new Layout(order, headers, header, offset);
    }

    /**
     * Writes {@code target} atomically; {@code filler} is called once per tensor in file order.
     *
     * @return the layout written
     * @throws UpcycleException IoError (disk full, permission denied), or whatever the filler
     *                          throws; the temporary file is removed in every failure case
     */
    public static Layout write(Path target, List<TensorSpec> tensors, Map<String, String> extraMetadata,
                               TensorFiller filler) {
        Layout layout = layout(tensors, extraMetadata, target.toString());
        write(target, layout, filler);
        return layout;
    }

    /** Writes a precomputed layout atomically. */
    static void write(Path target, Layout layout, TensorFiller filler) {
        write(target, layout, filler, false);
    }

    /**
     * Writes a precomputed layout atomically.
     *
     * @param hash compute the file's SHA-256 from the bytes as they are written
     * @return the lower-case hex SHA-256 of the whole file when {@code hash}, else null
     */
    static String write(Path target, Layout layout, TensorFiller filler, boolean hash) {
        return write(target, layout, filler, hash, new WrittenRegions());
    }

    /**
     * As {@link #write(Path, Layout, TensorFiller, boolean)}; each complete tensor is added to
     * {@code regions} (under {@code target}'s final name), and a tensor may repeat any tensor there.
     */
    static String write(Path target, Layout layout, TensorFiller filler, boolean hash, WrittenRegions regions) {
        Path name = target.getFileName();
        Path tmp = target.resolveSibling("." + name + ".tmp");
        String where = target.toString();
        String digest;
        try {
            // A stale temp file from a crashed run is removed; CREATE_NEW then never follows a
            // planted symlink.
            Files.deleteIfExists(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    StandardOpenOption.READ);
                 FileChannel direct = DirectWrites.open(tmp);
                 PipelinedFileSink sink = new PipelinedFileSink(ch, target.toString(), hash, target, regions,
                         direct, direct == null ? 0 : DirectWrites.alignment(tmp))) {
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(layout.header.length).flip();
                sink.raw(prefix);
                sink.raw(ByteBuffer.wrap(layout.header));
                long dataStart = 8L + layout.header.length;
                for (int i = 0; i < layout.tensors().size(); i++) {
                    TensorSpec spec = layout.tensors().get(i);
                    Cancellation.check();
                    sink.begin(spec);
                    filler.fill(spec, sink);
                    sink.end();
                    TensorHeader h = layout.headers().get(i);
                    regions.add(spec.name(), new WrittenRegions.Region(target, dataStart + h.begin(), h.byteSize()));
                }
                digest = sink.finish();
                if (ch.size() != layout.fileSize()) {
                    throw new IllegalStateException("wrote " + ch.size() + " bytes, layout says " + layout.fileSize());
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            UpcycleException u = new UpcycleException(ErrorKind.IoError, where, "write failed: " + e, null, e);
            deleteAfterFailure(tmp, u);
            throw u;
        } catch (RuntimeException | Error e) {
            deleteAfterFailure(tmp, e);
            throw e;
        }
        return digest;
    }

    /** Cleanup while {@code cause} propagates: a failed delete is attached to it, not lost. */
    static void deleteAfterFailure(Path tmp, Throwable cause) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }
}
