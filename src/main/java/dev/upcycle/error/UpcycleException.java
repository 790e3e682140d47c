package dev.upcycle.error;

import java.util.Objects;

/**
 * A user-facing failure: bad input, impossible options, or the environment. It renders as the
 * one-line error {@code upcycle: <what> : <where> : <why>}, plus an optional
 * hint line (docs/formats.md, "Errors and exit codes") saying what to do next. Anything that is not an
 * UpcycleException is a bug.
 *
 * @param kind  the named error; decides the exit code
 * @param where the file, tensor or option concerned (e.g. {@code model.safetensors (tensor x)})
 * @param why   what rule was broken, with the offending values
 */
public final class UpcycleException extends RuntimeException {
    private final ErrorKind kind;
    private final String where;
    private final String why;
    private final String hint;

    public UpcycleException(ErrorKind kind, String where, String why) {
        this(kind, where, why, null, null);
    }

    public UpcycleException(ErrorKind kind, String where, String why, String hint) {
        this(kind, where, why, hint, null);
    }

    public UpcycleException(ErrorKind kind, String where, String why, String hint, Throwable cause) {
        super(kind + " : " + where + " : " + why, cause);
        this.kind = Objects.requireNonNull(kind);
        this.where = oneLine(where);
        this.why = oneLine(why);
        this.hint = hint == null ? null : oneLine(hint);
    }

    public ErrorKind kind() {
        return kind;
    }

    public ExitCode exitCode() {
        return kind.exitCode();
    }

    public String where() {
        return where;
    }

    public String why() {
        return why;
    }

    /** What to do next, or null. */
    public String hint() {
        return hint;
    }

    /** The error line, without the {@code upcycle: } prefix. */
    public String line() {
        return kind + " : " + where + " : " + why;
    }

    /** Messages may quote hostile input: keep them on one line and of bounded length. */
    static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), 400));
        for (int i = 0; i < s.length() && b.length() < 400; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        if (s.length() > 400) {
            b.append("...");
        }
        return b.toString();
    }
}
