package dev.upcycle.model;

import dev.upcycle.error.ErrorKind;

/**
 * One problem found by {@link ModelDescription#check()}.
 *
 * @param kind    the named error (also for warnings, so a user can look it up)
 * @param tensor  the tensor concerned, or {@code ""} when the finding is about the whole checkpoint
 * @param message what disagrees, with expected and found values
 */
public record Finding(Severity severity, ErrorKind kind, String tensor, String message) {

    public boolean isError() {
        return severity == Severity.ERROR;
    }
}
