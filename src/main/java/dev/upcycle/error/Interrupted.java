package dev.upcycle.error;

/**
 * Thrown at a safe point after SIGINT or SIGTERM ({@link Cancellation#check()}). It is not an
 * {@link UpcycleException}: it is no failure of the input or the environment, and its exit code
 * (130 or 143, as for a process the signal killed) is outside the error kinds' codes.
 */
public final class Interrupted extends RuntimeException {
    private final Cancellation.Signal signal;

    public Interrupted(Cancellation.Signal signal) {
        super("stopped by " + signal, null, false, false);
        this.signal = signal;
    }

    public Cancellation.Signal signal() {
        return signal;
    }

    public int exitCode() {
        return signal.exitCode();
    }
}
