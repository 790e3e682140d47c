package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The lock file {@code .<name>.upcycle-lock} beside an output, so two runs never write the same
 * output at once. {@link OutputDirectory} takes it for complete-or-absent outputs; train takes it
 * for its run directory, which is written in place.
 *
 * <p>Ownership is an operating-system lock ({@link FileChannel#tryLock}) on that file, not the
 * file's existence: the kernel drops it when its process dies, so a lock left by a killed run is
 * free without guessing from a PID whether its owner lives, and no run ever deletes a lock another
 * run holds. The file holds the owner's PID, for the error message.
 *
 * <p>The owner deletes the file before releasing the lock, so none is left behind. A run that
 * opened the file just before that deletion may then lock the deleted file; so before deleting,
 * the owner overwrites it with a tombstone, and a run that locks a tombstone starts again from the
 * path. Everything goes through the one channel: POSIX drops a process's lock on a file when the
 * process closes any descriptor of that file, so the lock file is never opened a second time.
 */
public final class OutputLock implements AutoCloseable {
    /** Lock files held by this JVM: a second channel on one of them must never be opened (closing
     *  it would drop the process's lock on the file), so a second taker in this JVM stops here. */
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();
    private static final int ATTEMPTS = 16;
    private static final String TOMBSTONE = "released\n";

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private boolean released;

    private OutputLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file for {@code target} (an absolute, normalised path). */
    static Path fileFor(Path target) {
        return SiblingNames.sibling(target, "lock");
    }

    /**
     * Takes the lock of {@code target}, creating its parent directory if needed.
     *
     * @throws UpcycleException OutputLocked when another run holds it
     */
    public static OutputLock acquire(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        if (abs.getParent() == null) {
            throw new UpcycleException(ErrorKind.UnsafeOutput, abs.toString(), "the output cannot be a file-system root");
        }
        try {
            Files.createDirectories(abs.getParent());
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, abs.toString(), "cannot create its parent directory "
                    + abs.getParent() + ": " + IoReasons.of(e), null, e);
        }
        return take(fileFor(abs), abs.toString());
    }

    /** Takes the lock file {@code file} of the output {@code where}. */
    static OutputLock take(Path file, String where) {
        if (!HELD.add(file)) {
            throw locked(where, file, ProcessHandle.current().pid());
        }
        try {
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                OutputLock taken = tryTake(file, where);
                if (taken != null) {
                    return taken;
                }
            }
        } catch (RuntimeException e) {
            HELD.remove(file);
            throw e;
        }
        HELD.remove(file);
        throw new UpcycleException(ErrorKind.OutputLocked, where, "lock file " + file + " keeps being replaced by other runs",
                "try again when they have finished");
    }

    /** One attempt: the lock, or null when the file locked was a released one, no longer at the path. */
    private static OutputLock tryTake(Path file, String where) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            // Named by the output the user gave, not the lock file beside it: the directory that
            // would hold both refuses new files (read-only, permissions, a pseudo file system).
            throw new UpcycleException(ErrorKind.IoError, where, "cannot create files in " + file.getParent() + ": "
                    + IoReasons.of(e), null, e);
        }
        try {
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held through another channel of this JVM
            }
            if (lock == null) {
                throw locked(where, file, owner(ch));
            }
            if (TOMBSTONE.equals(content(ch))) {
                ch.close(); // its owner deleted it after writing this, then released it: not ours
                return null;
            }
            write(ch, ProcessHandle.current().pid() + "\n");
            return new OutputLock(file, ch, lock);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot take lock: " + e, null, e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static UpcycleException locked(String where, Path file, long pid) {
        return new UpcycleException(ErrorKind.OutputLocked, where, "another upcycle run"
                + (pid > 0 ? " (PID " + pid + ")" : "") + " is writing this output; lock file " + file,
                "wait for it to finish; the lock is free as soon as that process ends");
    }

    /** The PID written by the holder, or -1 while it has not written it yet. */
    private static long owner(FileChannel ch) {
        try {
            return Long.parseLong(content(ch).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** The file's first bytes, read through {@code ch} itself. */
    private static String content(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(64);
        while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
            // read on
        }
        return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII);
    }

    private static void write(FileChannel ch, String text) throws IOException {
        ch.truncate(0);
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
        while (b.hasRemaining()) {
            ch.write(b, b.position());
        }
        ch.force(true);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    /**
     * Marks the file as released, deletes it, then releases the lock: no other run can take it
     * in between, and one that locks the deleted file afterwards sees the tombstone.
     */
    @Override
    public void close() {
        if (released) {
            return;
        }
        released = true;
        IOException failure = null;
        try {
            write(channel, TOMBSTONE);
            Files.deleteIfExists(file);
        } catch (IOException e) {
            failure = e;
            try {
                write(channel, ProcessHandle.current().pid() + "\n"); // still linked: no tombstone there
            } catch (IOException again) {
                e.addSuppressed(again);
            }
        }
        try {
            channel.close(); // releases the lock
        } catch (IOException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        } finally {
            HELD.remove(file);
        }
        if (failure != null) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot remove lock: " + failure, null, failure);
        }
    }
}
