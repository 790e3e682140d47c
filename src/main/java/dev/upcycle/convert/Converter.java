package dev.upcycle.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.FileDigest;
import dev.upcycle.io.JsonFiles;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.io.OutputDirectory;
import dev.upcycle.io.Provenance;
import dev.upcycle.model.ConfigWriter;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.plan.PlannedTensor;
import dev.upcycle.plan.Planner;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The {@code convert} workflow: open and validate the dense model, plan, scan the inputs, stream
 * the plan into a complete-or-absent output directory with config, tokenizer files, model card
 * and {@code upcycle.json}, commit.
 */
public final class Converter {
    /**
     * @param force          replace an existing upcycle output
     * @param allowNonfinite convert weights holding NaN or Inf instead of refusing
     * @param version        tool version for upcycle.json
     * @param optionsJson    the full option set, as recorded in upcycle.json
     */
    /**
     * @param log receives one line per phase with its duration (the CLI's --verbose), or null
     */
    public record Settings(boolean force, boolean allowNonfinite, String version, ObjectNode optionsJson,
                           Consumer<String> log) {
        public Settings {
            Objects.requireNonNull(version);
            Objects.requireNonNull(optionsJson);
        }

        public Settings(boolean force, boolean allowNonfinite, String version, ObjectNode optionsJson) {
            this(force, allowNonfinite, version, optionsJson, null);
        }
    }

    /** What a conversion did, for the command to print. */
    public record Result(UpcyclePlan plan, Path output, List<FileDigest> outputs, List<String> sourceWarnings) {
    }

    private final FamilyRegistry registry;

    public Converter(FamilyRegistry registry) {
        this.registry = Objects.requireNonNull(registry);
    }

    /** The plan only (--dry-run): reads headers and config, writes nothing. */
    public UpcyclePlan plan(Path input, UpcycleRequest request) {
        return plan(List.of(input), request);
    }

    /** The plan of a merge of several seeds (one input: plain upcycling), writing nothing. */
    public UpcyclePlan plan(List<Path> inputs, UpcycleRequest request) {
        List<SourceModel> seeds = openAll(inputs);
        try {
            return planOf(seeds, request);
        } finally {
            closeAll(seeds);
        }
    }

    /**
     * The output's size in bytes, for a progress bar: the plan without the merge's seed comparison,
     * which only changes the verdict, never the tensors.
     */
    public long outputBytes(List<Path> inputs, UpcycleRequest request) {
        List<SourceModel> seeds = openAll(inputs);
        try {
            return planOf(seeds, request, false).outputBytes();
        } finally {
            closeAll(seeds);
        }
    }

    private UpcyclePlan planOf(List<SourceModel> seeds, UpcycleRequest request) {
        return planOf(seeds, request, SeedIdentity.identical(seeds));
    }

    private UpcyclePlan planOf(List<SourceModel> seeds, UpcycleRequest request, boolean identicalSeeds) {
        return new Planner(registry).plan(seeds.stream().map(SourceModel::config).toList(),
                seeds.stream().map(SourceModel::headers).toList(), request, identicalSeeds);
    }

    private List<SourceModel> openAll(List<Path> inputs) {
        List<SourceModel> out = new ArrayList<>();
        try {
            for (Path p : inputs) {
                out.add(SourceModel.open(p, registry));
            }
            return out;
        } catch (RuntimeException e) {
            closeAll(out);
            throw e;
        }
    }

    private static void closeAll(List<SourceModel> seeds) {
        RuntimeException first = null;
        for (SourceModel s : seeds) {
            try {
                s.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Converts {@code input} into {@code output}. */
    public Result convert(Path input, Path output, UpcycleRequest request, Settings settings) {
        return convert(input, output, request, settings, null);
    }

    /** As {@link #convert(Path, Path, UpcycleRequest, Settings)}; {@code beforeEach} sees every tensor (tests). */
    Result convert(Path input, Path output, UpcycleRequest request, Settings settings,
                   Consumer<PlannedTensor> beforeEach) {
        return convert(List.of(input), output, request, settings, beforeEach);
    }

    /** Merges (or, with one input, upcycles) {@code seedDirs} into {@code output}. */
    public Result convert(List<Path> seedDirs, Path output, UpcycleRequest request, Settings settings) {
        return convert(seedDirs, output, request, settings, null);
    }

    public Result convert(List<Path> seedDirs, Path output, UpcycleRequest request, Settings settings,
                   Consumer<PlannedTensor> beforeEach) {
        return convert(seedDirs, output, request, settings, beforeEach, null);
    }

    /**
     * As {@link #convert(List, Path, UpcycleRequest, Settings, Consumer)}; {@code planned} sees the plan
     * before anything is scanned or written (the CLI states the verdict there), or is null.
     */
    public Result convert(List<Path> seedDirs, Path output, UpcycleRequest request, Settings settings,
                   Consumer<PlannedTensor> beforeEach, Consumer<UpcyclePlan> planned) {
        Path input = seedDirs.get(0);
        for (Path p : seedDirs) {
            refuseUnsafeOutput(p, output);
        }
        List<SourceModel> seeds = openAll(seedDirs);
        try {
            SourceModel src = seeds.get(0);
            UpcyclePlan plan = planOf(seeds, request);
            if (planned != null) {
                planned.accept(plan);
            }
            Path root = src.checkpoint().directory().toAbsolutePath();
            Timing time = new Timing(settings.log());
            // The input scan runs while the weights are written; its outcome counts as if it ran first.
            BackgroundScan scan = BackgroundScan.start(seeds.stream().map(s -> s.checkpoint().openFiles()).toList(),
                    !settings.allowNonfinite(), OrderedChunks.defaultThreads());
            Path parent = output.toAbsolutePath().normalize().getParent();
            if (parent == null || !Files.isDirectory(parent)) {
                // Creating the output would create its parent: not for inputs the scan may refuse.
                scan.await();
                time.lap("input scan (SHA-256, NaN/Inf)");
            }
            try (OutputDirectory out = OutputDirectory.create(output, settings.force())) {
                Path dir = out.staging();
                List<FileDigest> weights = new ArrayList<>();
                Consumer<PlannedTensor> each = beforeEach == null ? t -> { } : beforeEach;
                new PlanExecutor(plan, seeds.stream().map(SourceModel::checkpoint).toList(), t -> {
                    scan.throwIfFailed();
                    each.accept(t);
                }).write(dir, weights::add);
                time.lap("weights written and fsynced");
                List<FileDigest> inputs = new ArrayList<>(scan.await());
                time.lap("input scan (SHA-256, NaN/Inf), rest");
                var config = ConfigWriter.toJson(plan.targetConfig(), true);
                if (plan.target().attentionExperts()) {
                    List<String> ids = new ArrayList<>();
                    for (int i = 0; i < seeds.size(); i++) {
                        ids.add(baseModel(seeds.get(i), seedDirs.get(i)));
                    }
                    config.set("upcycle", UpcycleBlock.of(plan, ids));
                }
                JsonFiles.write(dir.resolve("config.json"), config);
                inputs.add(FileDigest.of(root, root.resolve(src.checkpoint().configFile().orElseThrow().getFileName())));
                src.checkpoint().index().ifPresent(i -> inputs.add(FileDigest.of(root, root.resolve(
                        dev.upcycle.io.CheckpointWriter.INDEX_FILE))));
                // Checked by the link rule when the seed was opened; copied by content, never as links.
                ModelFiles files = src.checkpoint().modelFiles();
                for (Path from : files.sideFiles()) {
                    String name = from.getFileName().toString();
                    files.copy(name, dir.resolve(name));
                    inputs.add(FileDigest.of(root, root.resolve(name)));
                }
                Files.writeString(dir.resolve("README.md"), ModelCard.of(plan, baseModel(src, input)),
                        StandardCharsets.UTF_8);
                inputs.sort(java.util.Comparator.comparing(FileDigest::path));
                time.lap("config, side files, model card");
                // The weight files were hashed as they were written; the rest is read here.
                List<FileDigest> outputs = Provenance.digestAll(dir, weights);
                time.lap("output SHA-256");
                new Provenance(settings.version(), "convert", settings.optionsJson(), inputs, outputs,
                        PlanReport.summary(plan)).write(dir);
                out.commit();
                time.lap("commit");
                return new Result(plan, out.target(), outputs, src.warnings());
            } catch (IOException e) {
                throw scan.firstError(new UpcycleException(ErrorKind.IoError, output.toString(), "write failed: " + e,
                        null, e));
            } catch (RuntimeException e) {
                throw scan.firstError(e);
            }
        } finally {
            closeAll(seeds);
        }
    }

    private static String baseModel(SourceModel src, Path input) {
        var name = src.config().raw().get("_name_or_path");
        if (name != null && name.isTextual() && !name.asText().isBlank()) {
            return name.asText();
        }
        var repo = src.checkpoint().modelFiles().repoId();
        if (repo.isPresent()) {
            return repo.get(); // a cache snapshot's directory name is a commit hash
        }
        Path abs = input.toAbsolutePath().normalize();
        return abs.getFileName() == null ? abs.toString() : abs.getFileName().toString();
    }

    /** The output must not be, contain, or lie inside the input (a --force there would delete it). */
    static void refuseUnsafeOutput(Path input, Path output) {
        Path in = real(input);
        Path out = real(output);
        if (out.startsWith(in) || in.startsWith(out)) {
            throw new UpcycleException(ErrorKind.UnsafeOutput, output.toString(),
                    out.equals(in) ? "the output directory is the input" : out.startsWith(in)
                            ? "the output directory is inside the input " + input
                            : "the output directory contains the input " + input,
                    "choose an output path outside the input model");
        }
    }

    /** The real path of {@code p}, or of its nearest existing ancestor with the rest appended. */
    private static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        Path rest = null;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            Path name = existing.getFileName();
            rest = rest == null ? name : name.resolve(rest);
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            Path r = existing.toRealPath();
            return rest == null ? r : r.resolve(rest);
        } catch (IOException e) {
            return abs;
        }
    }

    /** Phase timings, handed to the settings' log (convert --verbose; scripts/bench reads them). */
    private static final class Timing {
        private final Consumer<String> log;
        private long last = System.nanoTime();

        Timing(Consumer<String> log) {
            this.log = log;
        }

        void lap(String what) {
            long now = System.nanoTime();
            if (log != null) {
                log.accept(String.format(java.util.Locale.ROOT, "timing: %-32s %7.2f s", what, (now - last) / 1e9));
            }
            last = now;
        }
    }
}
