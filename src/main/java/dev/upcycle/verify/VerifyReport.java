package dev.upcycle.verify;

import java.util.List;

/**
 * Everything {@code upcycle verify} found.
 *
 * @param checkpoint the directory verified
 * @param checks     integrity checks, then {@code weights} and {@code functional} when asked for
 * @param functional the layer-by-layer comparison, or null when not run
 * @param weights    every tensor against its plan, or null when not run
 */
public record VerifyReport(String checkpoint, List<CheckResult> checks, FunctionalResult functional,
                           WeightResult weights) {

    public VerifyReport {
        checks = List.copyOf(checks);
    }

    public boolean passed() {
        return checks.stream().noneMatch(CheckResult::failed);
    }

    public long failures() {
        return checks.stream().filter(CheckResult::failed).count();
    }

    /** The first failure that means the input is malformed (verify then exits 3), if any. */
    public java.util.Optional<CheckResult.InputError> inputError() {
        return checks.stream().filter(CheckResult::failed).map(CheckResult::inputError)
                .filter(java.util.Objects::nonNull).findFirst();
    }
}
