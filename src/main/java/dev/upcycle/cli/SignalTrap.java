package dev.upcycle.cli;

import dev.upcycle.error.Cancellation;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * SIGINT and SIGTERM become a {@link Cancellation} request instead of the JVM's exit. The JVM's
 * own handling starts exiting at once, on another thread: the process tears down (shutdown hooks,
 * then the native libraries' exit-time destructors) while the main thread may still be inside
 * libtorch, which crashed the JVM (SIGSEGV, exit 134) and left the lock and staging behind. Here
 * the main thread stops at its next safe point and cleans up before anything exits; a second
 * signal exits after a short grace even if the cleanup has not finished.
 */
final class SignalTrap {
    /** How long a second signal waits for the cleanup before the process exits anyway. */
    static final long GRACE_MILLIS = 2000;
    /** Without signal handlers, how long the shutdown hook lets the main thread clean up. */
    static final long HOOK_WAIT_SECONDS = 10;

    private static final CountDownLatch DONE = new CountDownLatch(1);

    private SignalTrap() {
    }

    /** Installs the handlers; first thing in main, before any engine or output is touched. */
    static void install() {
        try {
            handle("INT", Cancellation.Signal.SIGINT);
            handle("TERM", Cancellation.Signal.SIGTERM);
        } catch (LinkageError | IllegalArgumentException | UnsupportedOperationException e) {
            // No sun.misc.Signal here (or the JVM runs with -Xrs): the JVM exits on the signal, but
            // its shutdown hook lets the main thread stop at a safe point and clean up first.
            Thread main = Thread.currentThread();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                if (main.isAlive() && Cancellation.request(Cancellation.Signal.SIGTERM)) {
                    try {
                        DONE.await(HOOK_WAIT_SECONDS, TimeUnit.SECONDS);
                    } catch (InterruptedException ignored) {
                        Thread.currentThread().interrupt();
                    }
                }
            }, "upcycle-cleanup"));
        }
    }

    @SuppressWarnings("sunapi")
    private static void handle(String name, Cancellation.Signal which) {
        sun.misc.Signal.handle(new sun.misc.Signal(name), s -> received(which));
    }

    private static void received(Cancellation.Signal which) {
        if (Cancellation.request(which)) {
            return; // the main thread stops at its next safe point
        }
        Cancellation.Signal first = Cancellation.signal();
        Thread force = new Thread(() -> {
            try {
                Thread.sleep(GRACE_MILLIS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
            System.err.println("upcycle: Interrupted : " + which + " again : the cleanup did not finish in "
                    + GRACE_MILLIS / 1000 + " s; exiting now, the next run into the same output removes what is left");
            System.err.flush();
            // halt, not exit: no shutdown hook may run while the main thread is inside libtorch.
            Runtime.getRuntime().halt(first.exitCode());
        }, "upcycle-force-exit");
        force.setDaemon(true);
        force.start();
    }

    /** Main is about to exit: the fallback hook need not wait any longer. */
    static void finished() {
        DONE.countDown();
    }
}
