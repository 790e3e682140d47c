package dev.upcycle.error;

/** Process exit codes, the same for every command (docs/formats.md, "Errors and exit codes"). */
public enum ExitCode {
    OK(0),
    /** A check failed: verify found a problem, eval missed its --max-loss bar. */
    CHECK_FAILED(1),
    /** Unknown option or bad option value. */
    USAGE(2),
    /** Malformed checkpoint, unsupported family, impossible option combination. */
    BAD_INPUT(3),
    /** Disk full, permission denied, output exists without --force. */
    ENVIRONMENT(4),
    /** A bug. */
    INTERNAL(70);

    private final int code;

    ExitCode(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
