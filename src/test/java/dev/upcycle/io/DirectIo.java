package dev.upcycle.io;

import static org.assertj.core.api.Assumptions.assumeThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** Runs a test body with the writer's direct I/O switched on or off (the tests of a JVM run one at a time). */
final class DirectIo {
    private DirectIo() {
    }

    /**
     * Runs {@code body} with {@code upcycle.directIo} set to {@code on}; with {@code on}, first
     * checks that files in {@code dir} do take direct writes (the test is skipped where the file
     * system refuses them, as the writer then falls back).
     */
    static void with(Path dir, boolean on, Runnable body) {
        String before = System.getProperty("upcycle.directIo");
        System.setProperty("upcycle.directIo", Boolean.toString(on));
        try {
            if (on) {
                assumeThat(supported(dir)).as("direct I/O in " + dir).isTrue();
            }
            body.run();
        } finally {
            if (before == null) {
                System.clearProperty("upcycle.directIo");
            } else {
                System.setProperty("upcycle.directIo", before);
            }
        }
    }

    static boolean supported(Path dir) {
        try {
            Path probe = Files.createTempFile(dir, "direct", ".probe");
            try (FileChannel ch = DirectWrites.open(probe)) {
                return ch != null;
            } finally {
                Files.delete(probe);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
