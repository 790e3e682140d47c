package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The lock file {@code .<name>.upcycle-lock} beside an output, holding the PID of the run that
 * writes it, so two runs never write the same output at once. {@link OutputDirectory} takes it
 * for complete-or-absent outputs; train takes it for its run directory, which is written in
 * place. A lock left by a dead process is taken over.
 */
public final class OutputLock implements AutoCloseable {
    private final Path file;
    private boolean released;

    private OutputLock(Path file) {
        this.file = file;
    }

    /** The lock file for {@code target} (an absolute, normalised path). */
    static Path fileFor(Path target) {
        return SiblingNames.sibling(target, "lock");
    }

    /**
     * Takes the lock of {@code target}, creating its parent directory if needed.
     *
     * @throws UpcycleException OutputLocked when a live process holds it
     */
    public static OutputLock acquire(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        if (abs.getParent() == null) {
            throw new UpcycleException(ErrorKind.UnsafeOutput, abs.toString(), "the output cannot be a file-system root");
        }
        try {
            Files.createDirectories(abs.getParent());
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, abs.getParent().toString(), "cannot create directory: " + e, null, e);
        }
        Path lock = fileFor(abs);
        OutputDirectory.takeLock(lock, abs.toString());
        return new OutputLock(lock);
    }

    @Override
    public void close() {
        if (released) {
            return;
        }
        released = true;
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot remove lock: " + e, null, e);
        }
    }
}
