package dev.upcycle.verify;

import dev.upcycle.model.FamilyRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code upcycle verify}: the integrity checks, then, when a dense source is given, the weight
 * check (every tensor against its plan) and the functional comparison.
 */
public final class Verifier {
    private final FamilyRegistry registry;

    public Verifier(FamilyRegistry registry) {
        this.registry = registry;
    }

    /**
     * @param against   the dense source, or null
     * @param tolerance null for the default the plan or the dtype gives
     * @param tokens    length of the long test sequence
     */
    public VerifyReport verify(Path dir, Path against, Double tolerance, int tokens) {
        return verify(dir, against == null ? List.of() : List.of(against), tolerance, tokens, false, bytes -> { });
    }

    /**
     * As above; {@code against} holds the dense source (or every seed of a merge, in order; the
     * functional check runs against the first), {@code strict} holds a non-exact plan to the
     * exact bound, and {@code progress} is told the bytes read (a progress bar).
     */
    public VerifyReport verify(Path dir, List<Path> against, Double tolerance, int tokens, boolean strict,
                               java.util.function.LongConsumer progress) {
        List<CheckResult> checks = new ArrayList<>(new IntegrityChecks(registry, progress).run(dir));
        FunctionalResult functional = null;
        WeightResult weights = null;
        if (!against.isEmpty()) {
            boolean readable = checks.stream()
                    .filter(c -> List.of("headers", "index", "config").contains(c.name()))
                    .allMatch(c -> c.status() == CheckResult.Status.PASS);
            if (readable) {
                FunctionalCheck functionalCheck = new FunctionalCheck(registry);
                functionalCheck.requireComparable(dir, against.get(0));
                ProvenanceCheck.Outcome w = new ProvenanceCheck(registry, progress).run(dir, against);
                checks.add(w.check());
                weights = w.result();
                FunctionalCheck.Expectation expected = weights == null || weights.fidelity() == null ? null
                        : new FunctionalCheck.Expectation(weights.fidelity(), weights.passed() && weights.allCopies(),
                        strict);
                functional = functionalCheck.run(dir, against.get(0), tolerance, tokens, expected);
                checks.add(FunctionalCheck.asCheck(functional));
            } else {
                checks.add(CheckResult.skip("weights", "not run: the checkpoint failed an integrity check"));
                checks.add(CheckResult.skip("functional", "not run: the checkpoint failed an integrity check"));
            }
        }
        return new VerifyReport(dir.toString(), checks, functional, weights);
    }
}
