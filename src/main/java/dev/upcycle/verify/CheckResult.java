package dev.upcycle.verify;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

import java.util.List;

/**
 * The outcome of one verify check.
 *
 * @param name     short stable name ({@code manifest}, {@code headers}, {@code index}, {@code config},
 *                 {@code finite}, {@code functional})
 * @param status   passed, failed, or not run (and why, in {@code summary})
 * @param summary  one line
 * @param problems one line per problem found (empty when passed)
 * @param inputError for a failure that means the input is malformed (a bad header or index, a
 *                   config that disagrees with its tensors, NaN/Inf weights), the first problem as
 *                   a named error: verify then exits 3 like every other command given bad input;
 *                   null for passes, skips, and failures that are findings about an otherwise valid
 *                   checkpoint (a file that no longer matches upcycle.json, a functional mismatch)
 */
public record CheckResult(String name, Status status, String summary, List<String> problems,
                          InputError inputError) {

    public enum Status { PASS, FAIL, SKIP }

    /** A malformed-input failure in the terms of the one-line error: kind, where, why. */
    public record InputError(ErrorKind kind, String where, String why) {
        static InputError of(UpcycleException e) {
            return new InputError(e.kind(), e.where(), e.why());
        }
    }

    public CheckResult {
        problems = List.copyOf(problems);
    }

    public CheckResult(String name, Status status, String summary, List<String> problems) {
        this(name, status, summary, problems, null);
    }

    /** A failure caused by malformed input. */
    static CheckResult badInput(String name, String summary, List<String> problems, InputError error) {
        return new CheckResult(name, Status.FAIL, summary, problems, error);
    }

    static CheckResult pass(String name, String summary) {
        return new CheckResult(name, Status.PASS, summary, List.of());
    }

    static CheckResult skip(String name, String why) {
        return new CheckResult(name, Status.SKIP, why, List.of());
    }

    static CheckResult of(String name, String passSummary, String failSummary, List<String> problems) {
        return problems.isEmpty() ? pass(name, passSummary)
                : new CheckResult(name, Status.FAIL, failSummary, problems);
    }

    public boolean failed() {
        return status == Status.FAIL;
    }
}
