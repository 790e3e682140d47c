package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A dense checkpoint on disk, single-file or sharded, with every shard open and
 * cross-checked against the index (docs/formats.md, "Sharded checkpoints" and "Rejected inputs" rows
 * 20-27). Every file is read under {@link ModelFiles}' rule (inside the directory, or a Hugging Face
 * cache snapshot's blobs); pickle files are recognised by name and never opened.
 */
public final class Checkpoint implements AutoCloseable {
    static final String PICKLE_HINT =
            "convert it to safetensors first (e.g. with transformers: model.save_pretrained(dir, safe_serialization=True))";

    private final Path directory;
    private final ModelFiles modelFiles;
    private final Optional<Path> configFile;
    private final Optional<ShardIndex> index;
    private final List<SafetensorsFile> files;
    private final Map<String, TensorRef> tensors;
    private final List<String> warnings;

    private Checkpoint(ModelFiles modelFiles, Optional<Path> configFile, Optional<ShardIndex> index,
                       List<SafetensorsFile> files, Map<String, TensorRef> tensors, List<String> warnings) {
        this.directory = modelFiles.directory();
        this.modelFiles = modelFiles;
        this.configFile = configFile;
        this.index = index;
        this.files = List.copyOf(files);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.warnings = List.copyOf(warnings);
    }

    /**
     * Opens a checkpoint given as a directory, a {@code .safetensors} file, or an index file.
     *
     * @throws UpcycleException NoCheckpoint, UnsupportedPickleCheckpoint, AmbiguousCheckpoint,
     *                          InvalidIndex, UnsafePath, MissingShard, IndexMismatch,
     *                          DuplicateTensorName, any header error, IoError
     */
    public static Checkpoint open(Path path) {
        if (!Files.exists(path)) {
            throw new UpcycleException(ErrorKind.NoCheckpoint, path.toString(), "no such file or directory");
        }
        if (Files.isDirectory(path)) {
            return openDirectory(path);
        }
        Path dir = path.toAbsolutePath().getParent();
        String name = path.getFileName().toString();
        if (isPickle(name)) {
            throw pickle(path.toString(), name);
        }
        if (name.endsWith(".json")) {
            return new Opener(dir).sharded(name);
        }
        return new Opener(dir).single(name);
    }

    private static Checkpoint openDirectory(Path dir) {
        List<String> names;
        try (Stream<Path> s = Files.list(dir)) {
            names = s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, dir.toString(), "cannot list directory: " + e, null, e);
        }
        Opener opener = new Opener(dir);
        if (names.contains(CheckpointWriter.INDEX_FILE)) {
            return opener.sharded(CheckpointWriter.INDEX_FILE);
        }
        if (names.contains(CheckpointWriter.SINGLE_FILE)) {
            return opener.single(CheckpointWriter.SINGLE_FILE);
        }
        List<String> safetensors = names.stream().filter(n -> n.endsWith(".safetensors")).toList();
        if (safetensors.size() == 1) {
            return opener.single(safetensors.get(0));
        }
        if (safetensors.size() > 1) {
            throw new UpcycleException(ErrorKind.AmbiguousCheckpoint, dir.toString(), safetensors.size()
                    + " .safetensors files and no " + CheckpointWriter.INDEX_FILE + ": " + safetensors,
                    "name the file to use, or add an index");
        }
        List<String> pickles = names.stream().filter(Checkpoint::isPickle).toList();
        if (!pickles.isEmpty()) {
            throw pickle(dir.toString(), String.join(", ", pickles));
        }
        throw new UpcycleException(ErrorKind.NoCheckpoint, dir.toString(),
                "no model.safetensors, " + CheckpointWriter.INDEX_FILE + " or other .safetensors file");
    }

    static boolean isPickle(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth") || n.endsWith(".ckpt")
                || n.endsWith(".pkl");
    }

    private static UpcycleException pickle(String where, String files) {
        return new UpcycleException(ErrorKind.UnsupportedPickleCheckpoint, where,
                "only pickle weights found (" + files + "); they can run code when loaded and are never opened",
                PICKLE_HINT);
    }

    /** The checkpoint directory as given (not resolved). */
    public Path directory() {
        return directory;
    }

    /** The directory's files under the one link rule (side files, upcycle.json). */
    public ModelFiles modelFiles() {
        return modelFiles;
    }

    /** {@code config.json}, when present and confined to the directory. */
    public Optional<Path> configFile() {
        return configFile;
    }

    public Optional<ShardIndex> index() {
        return index;
    }

    /** The safetensors files, in shard order. */
    public List<Path> files() {
        return files.stream().map(SafetensorsFile::path).toList();
    }

    /** The open files, in shard order. */
    public List<SafetensorsFile> openFiles() {
        return files;
    }

    /** Every tensor: file order, then offset order. */
    public Map<String, TensorRef> tensors() {
        return tensors;
    }

    /** @throws UpcycleException TensorNotFound */
    public TensorRef tensor(String name) {
        TensorRef r = tensors.get(name);
        if (r == null) {
            throw new UpcycleException(ErrorKind.TensorNotFound, TensorNames.where(directory.toString(), name),
                    "no tensor of that name in the checkpoint (" + tensors.size() + " tensors)");
        }
        return r;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** Things worth telling the user that do not stop the run. */
    public List<String> warnings() {
        return warnings;
    }

    /** Closes every file; the first failure is thrown, later ones attached to it. */
    @Override
    public void close() {
        closeAll(files, null);
    }

    private static void closeAll(List<SafetensorsFile> files, RuntimeException pending) {
        RuntimeException first = pending;
        for (SafetensorsFile f : files) {
            try {
                f.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null && first != pending) {
            throw first;
        }
    }

    /** Opening state for one directory: the files opened so far are closed on any failure. */
    private static final class Opener {
        private final Path dir;
        private final ModelFiles modelFiles;
        private final List<SafetensorsFile> opened = new ArrayList<>();
        private final List<String> warnings = new ArrayList<>();

        Opener(Path dir) {
            this.dir = dir;
            this.modelFiles = ModelFiles.of(dir);
        }

        /** The name, links followed, must obey the one rule of {@link ModelFiles}. */
        Path confine(String name, ErrorKind ifMissing) {
            return modelFiles.file(name, ifMissing);
        }

        Optional<Path> config() {
            return modelFiles.optional("config.json");
        }

        SafetensorsFile openShard(String name) {
            SafetensorsFile f = SafetensorsFile.open(confine(name, ErrorKind.MissingShard));
            opened.add(f);
            return f;
        }

        Checkpoint single(String name) {
            try {
                Optional<Path> config = config();
                SafetensorsFile f = openShard(name);
                Map<String, TensorRef> tensors = new LinkedHashMap<>();
                for (TensorHeader t : f.tensors()) {
                    tensors.put(t.name(), new TensorRef(f, t));
                }
                oddities(tensors);
                return new Checkpoint(modelFiles, config, Optional.empty(), opened, tensors, warnings);
            } catch (RuntimeException e) {
                closeAll(opened, e);
                throw e;
            }
        }

        Checkpoint sharded(String indexName) {
            try {
                Optional<Path> config = config();
                ShardIndex index = ShardIndex.parse(confine(indexName, ErrorKind.NoCheckpoint));
                String iw = index.file().toString();
                Map<String, TensorRef> tensors = new LinkedHashMap<>();
                Map<String, String> foundIn = new HashMap<>();
                long total = 0;
                // Duplicates first: a tensor in two shards also disagrees with the index for one
                // of them, but DuplicateTensorName is the precise diagnosis (docs/formats.md,
                // "Rejected inputs", row 25).
                Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
                for (String shard : index.shardNames()) {
                    SafetensorsFile f = openShard(shard);
                    shards.put(shard, f);
                    for (TensorHeader t : f.tensors()) {
                        String previous = foundIn.putIfAbsent(t.name(), shard);
                        if (previous != null) {
                            throw new UpcycleException(ErrorKind.DuplicateTensorName,
                                    TensorNames.where(f.path().toString(), t.name()),
                                    "tensor is also in shard " + previous);
                        }
                    }
                }
                for (Map.Entry<String, SafetensorsFile> s : shards.entrySet()) {
                    String shard = s.getKey();
                    SafetensorsFile f = s.getValue();
                    for (TensorHeader t : f.tensors()) {
                        String tw = TensorNames.where(f.path().toString(), t.name());
                        String mapped = index.weightMap().get(t.name());
                        if (!shard.equals(mapped)) {
                            throw new UpcycleException(ErrorKind.IndexMismatch, tw, mapped == null
                                    ? "tensor is not listed in " + iw
                                    : iw + " maps it to " + mapped);
                        }
                        tensors.put(t.name(), new TensorRef(f, t));
                        total += t.byteSize();
                    }
                }
                for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
                    if (!tensors.containsKey(e.getKey())) {
                        throw new UpcycleException(ErrorKind.IndexMismatch, TensorNames.where(iw, e.getKey()),
                                "listed in the index but absent from shard " + e.getValue());
                    }
                }
                if (index.totalSize().isPresent() && index.totalSize().getAsLong() != total) {
                    warnings.add(iw + ": metadata.total_size is " + index.totalSize().getAsLong()
                            + " but the shards hold " + total + " tensor bytes");
                }
                strays(index, tensors.keySet());
                oddities(tensors);
                return new Checkpoint(modelFiles, config, Optional.of(index), opened, tensors, warnings);
            } catch (RuntimeException e) {
                closeAll(opened, e);
                throw e;
            }
        }

        /**
         * Rejected input (docs/formats.md, "Rejected inputs", row 26): other .safetensors files beside
         * an index.
         */
        private void strays(ShardIndex index, Set<String> indexed) {
            Set<String> shards = new HashSet<>(index.shardNames());
            List<String> names;
            try (Stream<Path> s = Files.list(dir)) {
                names = s.map(p -> p.getFileName().toString()).sorted().toList();
            } catch (IOException e) {
                throw new UpcycleException(ErrorKind.IoError, dir.toString(), "cannot list directory: " + e, null, e);
            }
            for (String n : names) {
                if (!n.endsWith(".safetensors") || shards.contains(n)) {
                    continue;
                }
                if (n.equals(CheckpointWriter.SINGLE_FILE)) {
                    Path p = confine(n, ErrorKind.MissingShard);
                    Set<String> single;
                    try (SafetensorsFile f = SafetensorsFile.open(p)) {
                        single = new TreeSet<>();
                        f.tensors().forEach(t -> single.add(t.name()));
                    }
                    if (!single.equals(new TreeSet<>(indexed))) {
                        throw new UpcycleException(ErrorKind.AmbiguousCheckpoint, dir.toString(),
                                "both " + n + " and " + CheckpointWriter.INDEX_FILE
                                        + " are present and hold different tensors",
                                "remove the one that is out of date");
                    }
                    warnings.add(dir + ": both " + n + " and " + CheckpointWriter.INDEX_FILE
                            + " hold the same tensors; using the index");
                } else {
                    warnings.add(dir + ": " + n + " is not listed in " + CheckpointWriter.INDEX_FILE + "; ignored");
                }
            }
        }

        /** Buffers saved by old checkpoints that no model uses (docs/formats.md, "Source families"). */
        private void oddities(Map<String, TensorRef> tensors) {
            for (String name : tensors.keySet()) {
                if (name.endsWith("rotary_emb.inv_freq")) {
                    warnings.add(TensorNames.where(dir.toString(), name)
                            + ": rotary buffer saved by an old transformers version; ignored");
                }
            }
        }
    }
}
