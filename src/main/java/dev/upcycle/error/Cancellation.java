package dev.upcycle.error;

import java.util.ArrayList;
import java.util.List;

/**
 * The process-wide "stop" request of SIGINT or SIGTERM. The signal handler only sets it; the
 * work checks it with {@link #check()} at safe points (between tensors, buffers, layers, steps,
 * tokens) and unwinds with {@link Interrupted}, so every try-with-resources on the way removes
 * its staging and releases its lock. Code that cleans up or keeps something on the way out adds
 * a {@link #note}, which the final error line reports.
 */
public final class Cancellation {
    private static volatile Signal signal;
    private static final List<String> NOTES = new ArrayList<>();

    /** A signal that stops a run, with the exit code of a process it would have killed. */
    public enum Signal {
        SIGINT(130), SIGTERM(143);

        private final int exitCode;

        Signal(int exitCode) {
            this.exitCode = exitCode;
        }

        public int exitCode() {
            return exitCode;
        }
    }

    private Cancellation() {
    }

    /** Records a stop request; returns false when one was already recorded (a second signal). */
    public static synchronized boolean request(Signal s) {
        if (signal != null) {
            return false;
        }
        signal = s;
        return true;
    }

    /** The signal received, or null. */
    public static Signal signal() {
        return signal;
    }

    public static boolean requested() {
        return signal != null;
    }

    /** Throws {@link Interrupted} once a stop was requested; a volatile read otherwise. */
    public static void check() {
        Signal s = signal;
        if (s != null) {
            throw new Interrupted(s);
        }
    }

    /** Adds what a cleanup on the way out removed or kept, e.g. "removed the staging of OUT". */
    public static synchronized void note(String what) {
        NOTES.add(what);
    }

    public static synchronized List<String> notes() {
        return List.copyOf(NOTES);
    }

    /** Forgets the request and the notes (tests that run several commands in one JVM). */
    public static synchronized void reset() {
        signal = null;
        NOTES.clear();
    }
}
