package dev.upcycle.faults;

import dev.upcycle.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code upcycle} in a child JVM, its output collected on a thread. SIGINT and SIGTERM are reset
 * to their default first: a shell starting a background job (as a build tool may start the tests)
 * leaves SIGINT ignored, the JVM then keeps it ignored, and a signal trial would prove nothing.
 */
final class Child {
    private final Process process;
    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final Thread drain;
    private final long startedNanos = System.nanoTime();

    private Child(Process process) {
        this.process = process;
        this.drain = new Thread(() -> {
            try {
                process.getInputStream().transferTo(output);
            } catch (IOException ignored) {
                // the process ended
            }
        });
        drain.setDaemon(true);
        drain.start();
    }

    /** Starts {@code upcycle args...} with {@code cwd} as its working directory. */
    static Child start(Path cwd, String... args) throws IOException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of("perl", "-e",
                "$SIG{INT} = 'DEFAULT'; $SIG{TERM} = 'DEFAULT'; exec { $ARGV[0] } @ARGV or die \"exec: $!\";",
                java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        return new Child(new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start());
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    double secondsSinceStart() {
        return (System.nanoTime() - startedNanos) / 1e9;
    }

    /**
     * CPU seconds the process has used (user + system, from /proc): a JVM spends well under one
     * second of CPU before it reaches main, so past that the command has started.
     */
    double cpuSeconds() {
        try {
            String stat = Files.readString(Path.of("/proc/" + process.pid() + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime, stime in USER_HZ ticks
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Sends a signal by name (INT, TERM) with kill(1). */
    void signal(String name) throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start().waitFor();
    }

    /** Waits for the exit; returns the exit code and everything printed. */
    Result await(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor();
            drain.join(5000);
            throw new AssertionError("still running after " + seconds + " s: " + text());
        }
        drain.join(10_000);
        return new Result(process.exitValue(), text());
    }

    private String text() {
        return output.toString(StandardCharsets.UTF_8);
    }

    record Result(int code, String text) {
        /** The lines starting with {@code upcycle: }: the error lines. */
        List<String> errorLines() {
            return text.lines().filter(l -> l.startsWith("upcycle: ")).toList();
        }
    }
}
