package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a whole checkpoint: one {@code model.safetensors}, or shards plus
 * {@code model.safetensors.index.json}, split exactly as transformers / huggingface_hub split
 * (docs/formats.md, "Sharded checkpoints").
 */
public final class CheckpointWriter {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([A-Za-z]*)");

    private CheckpointWriter() {
    }

    /**
     * huggingface_hub {@code split_state_dict_into_shards_factory}: visit tensors in state-dict
     * order; a tensor bigger than the limit gets a shard of its own (created at once, so it is
     * numbered before the shard still being filled); otherwise close the current shard when
     * adding the tensor would exceed the limit. One shard is named {@code model.safetensors}.
     */
    public static List<ShardPlan> planShards(List<TensorSpec> tensorsInStateDictOrder, long maxShardSize) {
        if (maxShardSize <= 0) {
            throw new IllegalArgumentException("maxShardSize must be positive, got " + maxShardSize);
        }
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> current = new ArrayList<>();
        long currentSize = 0;
        for (TensorSpec t : tensorsInStateDictOrder) {
            long size = t.byteSize();
            if (size > maxShardSize) {
                shards.add(List.of(t));
                continue;
            }
            if (currentSize + size > maxShardSize) {
                shards.add(current);
                current = new ArrayList<>();
                currentSize = 0;
            }
            current.add(t);
            currentSize += size;
        }
        if (!current.isEmpty() || shards.isEmpty()) {
            shards.add(current);
        }
        List<ShardPlan> plans = new ArrayList<>(shards.size());
        int n = shards.size();
        for (int i = 0; i < n; i++) {
            String name = n == 1 ? SINGLE_FILE
                    : String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, n);
            long bytes = 0;
            for (TensorSpec t : shards.get(i)) {
                bytes += t.byteSize();
            }
            plans.add(new ShardPlan(name, shards.get(i), bytes));
        }
        return plans;
    }

    /**
     * Writes every shard into {@code dir} (created if missing) and, when there is more than
     * one, the index. The filler sees each shard's tensors in that file's order.
     */
    public static WrittenCheckpoint write(Path dir, List<TensorSpec> tensors, long maxShardSize,
                                          Map<String, String> extraMetadata, TensorFiller filler) {
        return write(dir, tensors, maxShardSize, extraMetadata, filler, null);
    }

    /**
     * As {@link #write(Path, List, long, Map, TensorFiller)}; when {@code digests} is not null,
     * each safetensors file's size and SHA-256 (path relative to {@code dir}) is computed from
     * the bytes as they are written, on a second thread, and given to it once the file is complete.
     */
    public static WrittenCheckpoint write(Path dir, List<TensorSpec> tensors, long maxShardSize,
                                          Map<String, String> extraMetadata, TensorFiller filler,
                                          java.util.function.Consumer<FileDigest> digests) {
        List<ShardPlan> plans = planShards(tensors, maxShardSize);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, dir.toString(), "cannot create directory: " + e, null, e);
        }
        List<Path> files = new ArrayList<>();
        Map<String, String> weightMap = new TreeMap<>(SafetensorsWriter.BYTEWISE);
        long total = 0;
        WrittenRegions regions = new WrittenRegions();
        for (ShardPlan plan : plans) {
            Path file = dir.resolve(plan.fileName());
            SafetensorsWriter.Layout layout = SafetensorsWriter.layout(plan.tensors(), extraMetadata, file.toString());
            String sha = SafetensorsWriter.write(file, layout, filler, digests != null, regions);
            if (digests != null) {
                digests.accept(new FileDigest(plan.fileName(), layout.fileSize(), sha));
            }
            files.add(file);
            for (TensorSpec t : plan.tensors()) {
                weightMap.put(t.name(), plan.fileName());
            }
            total += plan.byteSize();
        }
        Optional<Path> index = Optional.empty();
        if (plans.size() > 1) {
            Path indexFile = dir.resolve(INDEX_FILE);
            writeAtomically(indexFile, indexJson(total, weightMap).getBytes(StandardCharsets.UTF_8));
            index = Optional.of(indexFile);
        }
        return new WrittenCheckpoint(dir, files, index, total);
    }

    /** The index as transformers writes it: {@code json.dumps(indent=2, sort_keys=True) + "\n"}. */
    static String indexJson(long totalSize, Map<String, String> sortedWeightMap) {
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize).append("\n  },\n");
        b.append("  \"weight_map\": {");
        String sep = "\n";
        for (Map.Entry<String, String> e : sortedWeightMap.entrySet()) {
            b.append(sep).append("    ").append(JsonText.quote(e.getKey())).append(": ")
                    .append(JsonText.quote(e.getValue()));
            sep = ",\n";
        }
        b.append(sortedWeightMap.isEmpty() ? "}\n" : "\n  }\n").append("}\n");
        return b.toString();
    }

    /** Small files (index, config): temp file, force, atomic rename. */
    public static void writeAtomically(Path target, byte[] content) {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        try {
            Files.deleteIfExists(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(content);
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            UpcycleException u = new UpcycleException(ErrorKind.IoError, target.toString(), "write failed: " + e, null, e);
            SafetensorsWriter.deleteAfterFailure(tmp, u);
            throw u;
        } catch (RuntimeException e) {
            SafetensorsWriter.deleteAfterFailure(tmp, e);
            throw e;
        }
    }

    /**
     * Parses a shard size: a byte count, or a number with B, KB, MB, GB, TB (powers of 10, as
     * transformers) or KiB, MiB, GiB, TiB (powers of 2); units are case-insensitive.
     *
     * @throws UpcycleException InvalidOption for anything else, zero, or over 2^63-1 bytes
     */
    public static long parseSize(String text) {
        String where = "--max-shard-size";
        Matcher m = SIZE.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new UpcycleException(ErrorKind.InvalidOption, where, "\"" + text
                    + "\" is not a size; use e.g. 5GB, 500MB, 2GiB or a byte count");
        }
        long unit = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "", "B" -> 1L;
            case "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "TB" -> 1_000_000_000_000L;
            case "KIB" -> 1L << 10;
            case "MIB" -> 1L << 20;
            case "GIB" -> 1L << 30;
            case "TIB" -> 1L << 40;
            default -> throw new UpcycleException(ErrorKind.InvalidOption, where, "unknown unit \"" + m.group(2)
                    + "\" in \"" + text + "\" (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)");
        };
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
        if (bytes.signum() <= 0 || bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new UpcycleException(ErrorKind.InvalidOption, where, "\"" + text + "\" must be between 1 byte and 2^63-1 bytes");
        }
        if (bytes.stripTrailingZeros().scale() > 0) {
            throw new UpcycleException(ErrorKind.InvalidOption, where, "\"" + text + "\" is not a whole number of bytes");
        }
        return bytes.longValueExact();
    }
}
