package dev.upcycle.verify;

import dev.upcycle.convert.SourceModel;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.Provenance;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * The {@code weights} check of {@code verify --against}: finds the conversion's plan (from
 * {@code upcycle.json}, else derived from both configs) and compares every output tensor with
 * it ({@link WeightCheck}).
 */
public final class ProvenanceCheck {
    /** The check's line in the report, and the details (null when it was not run). */
    public record Outcome(CheckResult check, WeightResult result) {
    }

    private final FamilyRegistry registry;
    private final LongConsumer progress;

    public ProvenanceCheck(FamilyRegistry registry, LongConsumer progress) {
        this.registry = registry;
        this.progress = progress;
    }

    /**
     * @param against the dense sources: one, or every seed of a merge in order
     * @throws UpcycleException any error reading a dense source (exit 3)
     */
    public Outcome run(Path dir, List<Path> against) {
        Provenance recorded = null;
        String unusable = null;
        if (Files.exists(dir.resolve(Provenance.FILE_NAME), LinkOption.NOFOLLOW_LINKS)) {
            try {
                recorded = Provenance.read(dir);
            } catch (UpcycleException e) {
                if (e.exitCode() == dev.upcycle.error.ExitCode.ENVIRONMENT) {
                    throw e;
                }
                unusable = e.why();
            }
        }
        int seedCount = recorded == null ? 1 : PlanCandidates.seeds(recorded);
        boolean identical = recorded != null && seedCount > 1 && PlanCandidates.identicalSeeds(recorded, seedCount);
        List<Path> seedDirs = new ArrayList<>();
        if (against.size() == seedCount) {
            seedDirs.addAll(against);
        } else if (against.size() == 1 && identical) {
            for (int i = 0; i < seedCount; i++) {
                seedDirs.add(against.get(0));
            }
        } else {
            return new Outcome(CheckResult.skip("weights", String.format(Locale.ROOT,
                    "not run: %s records a merge of %d seeds%s, and %d --against given; pass every seed, in order",
                    Provenance.FILE_NAME, seedCount, identical ? "" : " that differ", against.size())), null);
        }
        List<SourceModel> seeds = new ArrayList<>();
        try (Checkpoint output = Checkpoint.open(dir)) {
            for (Path p : seedDirs) {
                seeds.add(SourceModel.open(p, registry));
            }
            List<ModelConfig> configs = seeds.stream().map(SourceModel::config).toList();
            List<Map<String, TensorHeader>> headers = seeds.stream().map(SourceModel::headers).toList();
            PlanCandidates.Found found;
            try {
                found = plans(dir, recorded, output, configs, headers, seedCount, identical);
            } catch (UpcycleException e) {
                if (e.kind() != ErrorKind.ImpossibleCombination && e.kind() != ErrorKind.UnsupportedArchitecture) {
                    throw e;
                }
                return new Outcome(CheckResult.skip("weights", "not run: no conversion plan: " + e.why()), null);
            }
            if (found == null) {
                return new Outcome(CheckResult.skip("weights", "not run: a merge of different seeds needs its "
                        + Provenance.FILE_NAME + " to be planned"), null);
            }
            if (recorded != null && unusable == null) {
                unusable = unusableOptions(recorded);
            }
            if (unusable != null) {
                found = new PlanCandidates.Found(found.basis() + "; " + Provenance.FILE_NAME + " unusable: " + unusable,
                        found.plans());
            }
            WeightResult r = new WeightCheck(progress, seedCount == 1 || identical).check(found,
                    seeds.stream().map(SourceModel::checkpoint).toList(), output);
            return new Outcome(asCheck(r), r);
        } finally {
            seeds.forEach(SourceModel::close);
        }
    }

    /** The recorded plan, else the plans derived from both configs; null for a merge that cannot be derived. */
    private PlanCandidates.Found plans(Path dir, Provenance recorded, Checkpoint output, List<ModelConfig> configs,
                                       List<Map<String, TensorHeader>> headers, int seedCount, boolean identical) {
        if (recorded != null && unusableOptions(recorded) == null) {
            return PlanCandidates.recorded(recorded, dir.resolve(Provenance.FILE_NAME).toString(), configs, headers,
                    identical, registry);
        }
        if (seedCount > 1 && !identical) {
            return null;
        }
        ModelConfig out = ModelConfig.read(output.configFile().orElseThrow(() -> new UpcycleException(
                ErrorKind.InvalidConfig, dir.toString(), "no config.json beside the weights")), registry);
        return PlanCandidates.derived(out, output, configs.get(0), headers.get(0), registry);
    }

    /** About how many bytes the weights check compares (the weight files), for a progress bar. */
    public static long bytesToCompare(Path dir) {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".safetensors")).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (java.io.IOException e) {
                    return 0;
                }
            }).sum();
        } catch (java.io.IOException | RuntimeException e) {
            return 0; // the checks themselves will report what is wrong
        }
    }

    /** Why the recorded options cannot give a plan, or null when they can. */
    private static String unusableOptions(Provenance p) {
        try {
            RecordedRequest.of(p.options(), Provenance.FILE_NAME);
            return null;
        } catch (UpcycleException e) {
            return e.why();
        }
    }

    static CheckResult asCheck(WeightResult r) {
        String plan = "plan from " + r.planBasis() + (r.options().isEmpty() ? "" : ": " + r.options());
        if (r.mismatch() != null) {
            return new CheckResult("weights", CheckResult.Status.FAIL, "the tensors do not fit the plan; " + plan,
                    List.of(r.mismatch()));
        }
        WeightResult.Difference d = r.difference();
        if (d != null) {
            String line = String.format(Locale.ROOT, "%s differs at element %d %s: %s, the plan gives %s (%s)",
                    d.tensor(), d.index(), d.position(), value(d.actual()), value(d.expected()), d.source());
            return new CheckResult("weights", CheckResult.Status.FAIL, "first difference in " + d.tensor()
                    + " at element " + d.index() + "; " + plan, List.of(line));
        }
        List<String> notes = new ArrayList<>();
        Map<String, Integer> byReason = new LinkedHashMap<>();
        r.unchecked().forEach(u -> byReason.merge(u.reason(), 1, Integer::sum));
        byReason.forEach((why, n) -> notes.add("unchecked: " + n + " tensor" + (n == 1 ? "" : "s") + ": " + why));
        return new CheckResult("weights", CheckResult.Status.PASS, String.format(Locale.ROOT,
                "%d tensors (%s) equal the plan's values, %d unchecked; %s", r.checked(), bytes(r.bytes()),
                r.unchecked().size(), plan), notes);
    }

    private static String value(double v) {
        return String.format(Locale.ROOT, "%.9g", v);
    }

    private static String bytes(long b) {
        return b >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", b / (double) (1L << 20));
    }
}
