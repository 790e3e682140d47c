package dev.upcycle.verify;

import java.util.List;

/**
 * The outcome of one verify check.
 *
 * @param name     short stable name ({@code manifest}, {@code headers}, {@code index}, {@code config},
 *                 {@code finite}, {@code functional})
 * @param status   passed, failed, or not run (and why, in {@code summary})
 * @param summary  one line
 * @param problems one line per problem found (empty when passed)
 */
public record CheckResult(String name, Status status, String summary, List<String> problems) {

    public enum Status { PASS, FAIL, SKIP }

    public CheckResult {
        problems = List.copyOf(problems);
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
