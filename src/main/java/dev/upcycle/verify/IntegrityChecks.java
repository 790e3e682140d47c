package dev.upcycle.verify;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.io.Provenance;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.Finding;
import dev.upcycle.model.ModelSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The integrity checks of {@code upcycle verify} (README, "upcycle verify"): manifest sizes and SHA-256,
 * headers, index coverage, config against tensors, NaN/Inf. Problems in the checkpoint are
 * failed checks, not exceptions, so that every check is reported; only a path with no
 * checkpoint at all throws.
 */
public final class IntegrityChecks {
    /** Reader errors that concern the shard index rather than one file's header. */
    private static final Set<ErrorKind> INDEX_KINDS = EnumSet.of(ErrorKind.InvalidIndex, ErrorKind.MissingShard,
            ErrorKind.IndexMismatch, ErrorKind.DuplicateTensorName, ErrorKind.AmbiguousCheckpoint);

    private final FamilyRegistry registry;
    private final java.util.function.LongConsumer progress;

    public IntegrityChecks(FamilyRegistry registry) {
        this(registry, bytes -> { });
    }

    /** @param progress told how many bytes each file hash and tensor scan has just read */
    public IntegrityChecks(FamilyRegistry registry, java.util.function.LongConsumer progress) {
        this.registry = registry;
        this.progress = progress;
    }

    /** @throws UpcycleException NoCheckpoint when {@code dir} holds no checkpoint at all */
    public List<CheckResult> run(Path dir) {
        // A lone .safetensors file is a checkpoint too, as for inspect and convert: its header and
        // values are checked; it has no upcycle.json, and config.json only when one lies beside it.
        boolean lone = Files.isRegularFile(dir) && dir.getFileName().toString().endsWith(".safetensors");
        if (!lone && !Files.isDirectory(dir)) {
            throw new UpcycleException(ErrorKind.NoCheckpoint, dir.toString(), Files.exists(dir)
                    ? "not a directory or a .safetensors file" : "no such file or directory");
        }
        List<CheckResult> out = new ArrayList<>();
        Checkpoint ckpt;
        try {
            ckpt = Checkpoint.open(dir);
        } catch (UpcycleException e) {
            if (e.kind() == ErrorKind.NoCheckpoint || e.kind() == ErrorKind.UnsupportedPickleCheckpoint) {
                throw e;
            }
            rethrowEnvironment(e);
            out.add(lone ? loneManifest() : manifest(dir, progress, Map.of()));
            boolean index = INDEX_KINDS.contains(e.kind());
            String skipped = "not run: the checkpoint could not be opened";
            CheckResult.InputError error = CheckResult.InputError.of(e);
            out.add(index ? CheckResult.skip("headers", skipped)
                    : CheckResult.badInput("headers", "a header is invalid", List.of(e.line()), error));
            out.add(index ? CheckResult.badInput("index", "the index does not match the shards", List.of(e.line()), error)
                    : CheckResult.skip("index", skipped));
            out.add(CheckResult.skip("config", skipped));
            out.add(CheckResult.skip("finite", skipped));
            return out;
        }
        try (ckpt) {
            // One read of the weights gives both the manifest's hashes and the NaN/Inf counts.
            IntegrityScan.Result scan = IntegrityScan.scan(ckpt,
                    Files.exists(dir.resolve(Provenance.FILE_NAME), LinkOption.NOFOLLOW_LINKS), progress);
            out.add(lone ? loneManifest() : manifest(dir, progress, scan.digests()));
            out.add(CheckResult.pass("headers", ckpt.files().size() + " file(s), " + ckpt.tensors().size()
                    + " tensors, every header valid"));
            out.add(CheckResult.pass("index", ckpt.index().isPresent()
                    ? "the index lists every tensor of its " + ckpt.files().size() + " shards exactly once"
                    : "single file, no index"));
            out.add(lone && ckpt.configFile().isEmpty()
                    ? CheckResult.skip("config", "a single .safetensors file: no config.json beside it")
                    : config(ckpt));
            out.add(finite(ckpt, scan));
        }
        return out;
    }

    /** A lone .safetensors file has no upcycle.json to check against. */
    private static CheckResult loneManifest() {
        return CheckResult.skip("manifest", "a single .safetensors file: no " + Provenance.FILE_NAME);
    }

    /**
     * Every file listed under {@code outputs} in upcycle.json exists with its size and SHA-256;
     * a digest in {@code known} (by relative path, of a file of that size) is not computed again.
     */
    static CheckResult manifest(Path dir, java.util.function.LongConsumer progress, Map<String, FileDigest> known) {
        if (!Files.exists(dir.resolve(Provenance.FILE_NAME), LinkOption.NOFOLLOW_LINKS)) {
            return CheckResult.skip("manifest", "no " + Provenance.FILE_NAME + ": sizes and SHA-256 not checked");
        }
        Provenance p;
        try {
            p = Provenance.read(dir);
        } catch (UpcycleException e) {
            if (e.kind() == ErrorKind.UnsafePath) {
                return unsafe(e);
            }
            rethrowEnvironment(e);
            return new CheckResult("manifest", CheckResult.Status.FAIL, Provenance.FILE_NAME + " is unreadable",
                    List.of(e.line()));
        }
        Path root = dir.toAbsolutePath().normalize();
        ModelFiles files = ModelFiles.of(dir);
        List<String> problems = new ArrayList<>();
        for (FileDigest want : p.outputs()) {
            Path file = root.resolve(want.path()).normalize();
            if (!file.startsWith(root) || file.equals(root)) {
                problems.add(want.path() + ": path leaves the checkpoint directory");
                continue;
            }
            try {
                if (files.optional(root.relativize(file).toString()).isEmpty()) {
                    problems.add(want.path() + ": missing");
                    continue;
                }
            } catch (UpcycleException e) {
                return unsafe(e); // a listed file that breaks the link rule is never read
            }
            long size = size(file);
            if (size != want.size()) {
                problems.add(want.path() + ": " + size + " bytes, upcycle.json says " + want.size());
                continue;
            }
            FileDigest got = known.get(root.relativize(file).toString().replace('\\', '/'));
            if (got == null || got.size() != size) {
                got = FileDigest.of(root, file);
                progress.accept(got.size());
            }
            if (!got.sha256().equalsIgnoreCase(want.sha256())) {
                problems.add(want.path() + ": SHA-256 " + got.sha256() + ", upcycle.json says " + want.sha256());
            }
        }
        return CheckResult.of("manifest", p.outputs().size() + " file(s) match upcycle.json (size and SHA-256)",
                problems.size() + " file(s) differ from upcycle.json", problems);
    }

    private static CheckResult unsafe(UpcycleException e) {
        return CheckResult.badInput("manifest", "a listed file breaks the link rule", List.of(e.line()),
                CheckResult.InputError.of(e));
    }

    private CheckResult config(Checkpoint ckpt) {
        ModelSource src = ModelSource.of(ckpt, registry); // the caller closes ckpt
        if (src.configError().isPresent()) {
            UpcycleException e = src.configError().get();
            rethrowEnvironment(e);
            return CheckResult.badInput("config", "config.json is invalid", List.of(e.line()),
                    CheckResult.InputError.of(e));
        }
        if (src.config().isEmpty()) {
            return CheckResult.badInput("config", "no config.json", List.of(
                    ckpt.directory() + ": " + ModelSource.NO_CONFIG), new CheckResult.InputError(
                    ErrorKind.InvalidConfig, ckpt.directory().toString(), ModelSource.NO_CONFIG));
        }
        List<String> problems = new ArrayList<>();
        CheckResult.InputError first = null;
        List<String> warnings = new ArrayList<>();
        for (Finding f : src.configFindings()) {
            if (!f.isError()) {
                warnings.add("warning " + f.kind() + (f.tensor().isEmpty() ? "" : " " + f.tensor()) + ": " + f.message());
            } else {
                problems.add(f.kind() + (f.tensor().isEmpty() ? "" : " " + f.tensor()) + ": " + f.message());
                if (first == null) {
                    first = new CheckResult.InputError(f.kind(),
                            f.tensor().isEmpty() ? ckpt.directory().toString() : "tensor " + f.tensor(), f.message());
                }
            }
        }
        if (problems.isEmpty()) {
            return new CheckResult("config", CheckResult.Status.PASS, src.config().get().family() + ": "
                    + src.description().orElseThrow().expected().size()
                    + " expected tensors present with the right shapes, nothing unexpected"
                    + (warnings.isEmpty() ? "" : "; " + warnings.size() + " warning(s)"), warnings);
        }
        return CheckResult.badInput("config", problems.size() + " disagreement(s) between config.json and the tensors",
                problems, withMore(first, problems.size()));
    }

    private static CheckResult finite(Checkpoint ckpt, IntegrityScan.Result scan) {
        List<String> problems = new ArrayList<>();
        CheckResult.InputError first = null;
        int scanned = 0;
        for (TensorRef ref : ckpt.tensors().values()) {
            Cancellation.check();
            if (!ref.header().dtype().isFloat()) {
                continue;
            }
            scanned++;
            // A tensor at an unaligned offset (a foreign writer) is decoded value by value instead.
            long bad = scan.unaligned().contains(ref.name()) ? ref.file().countNonFinite(ref.name())
                    : scan.nonFinite().getOrDefault(ref.name(), 0L);
            if (bad > 0) {
                problems.add(ref.name() + ": " + bad + " NaN or Inf value(s)");
                if (first == null) {
                    first = new CheckResult.InputError(ErrorKind.NonFiniteWeights, "tensor " + ref.name(),
                            bad + " NaN or Inf value(s)");
                }
            }
        }
        if (problems.isEmpty()) {
            return CheckResult.pass("finite", scanned + " floating tensors scanned, no NaN or Inf");
        }
        return CheckResult.badInput("finite", problems.size() + " tensor(s) hold NaN or Inf", problems,
                withMore(first, problems.size()));
    }

    /**
     * A file that could not be read (too many open files, permission denied, an I/O error) says
     * nothing about the checkpoint: it is the environment's failure (exit 4), never a finding.
     */
    private static void rethrowEnvironment(UpcycleException e) {
        if (e.exitCode() == ExitCode.ENVIRONMENT) {
            throw e;
        }
    }

    private static CheckResult.InputError withMore(CheckResult.InputError e, int count) {
        return count <= 1 ? e : new CheckResult.InputError(e.kind(), e.where(),
                e.why() + " (and " + (count - 1) + " further problem" + (count == 2 ? "" : "s") + ")");
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * About how many bytes {@link #run} reads: the weight files (hashed and scanned in one read) plus
     * the other files listed in upcycle.json (hashed). For a progress bar, so it need not be exact.
     */
    public static long bytesToRead(Path dir) {
        long total = 0;
        try {
            if (Files.isRegularFile(dir)) {
                return Files.size(dir);
            }
            if (Files.exists(dir.resolve(Provenance.FILE_NAME))) {
                total += Provenance.read(dir).outputs().stream().filter(f -> !f.path().endsWith(".safetensors"))
                        .mapToLong(FileDigest::size).sum();
            }
            try (var files = Files.list(dir)) {
                total += files.filter(f -> f.getFileName().toString().endsWith(".safetensors"))
                        .mapToLong(IntegrityChecks::size).sum();
            }
        } catch (IOException | UpcycleException e) {
            return 0; // the checks themselves will report what is wrong
        }
        return total;
    }
}
