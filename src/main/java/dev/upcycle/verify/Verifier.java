package dev.upcycle.verify;

import dev.upcycle.model.FamilyRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code upcycle verify}: the integrity checks, then the functional comparison when a dense source is given. */
public final class Verifier {
    private final FamilyRegistry registry;

    public Verifier(FamilyRegistry registry) {
        this.registry = registry;
    }

    /**
     * @param against   the dense source, or null
     * @param tolerance null for the dtype's default
     * @param tokens    length of the long test sequence
     */
    public VerifyReport verify(Path dir, Path against, Double tolerance, int tokens) {
        return verify(dir, against, tolerance, tokens, bytes -> { });
    }

    /** As above; {@code progress} is told the bytes read by the integrity checks (a progress bar). */
    public VerifyReport verify(Path dir, Path against, Double tolerance, int tokens,
                               java.util.function.LongConsumer progress) {
        List<CheckResult> checks = new ArrayList<>(new IntegrityChecks(registry, progress).run(dir));
        FunctionalResult functional = null;
        if (against != null) {
            boolean readable = checks.stream()
                    .filter(c -> List.of("headers", "index", "config").contains(c.name()))
                    .allMatch(c -> c.status() == CheckResult.Status.PASS);
            if (readable) {
                functional = new FunctionalCheck(registry).run(dir, against, tolerance, tokens);
                checks.add(FunctionalCheck.asCheck(functional));
            } else {
                checks.add(CheckResult.skip("functional", "not run: the checkpoint failed an integrity check"));
            }
        }
        return new VerifyReport(dir.toString(), checks, functional);
    }
}
