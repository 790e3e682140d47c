package dev.upcycle.io;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * An output directory that is complete or absent. Files are written into a sibling staging
 * directory {@code .<name>.upcycle-tmp-<random>}; {@link #commit()} syncs it and renames it onto
 * the target; {@link #close()} without a commit removes it. The {@link OutputLock} is taken before
 * anything beside the target is touched and released only after the rename or the removal, so
 * one run at a time owns the target, its staging and its leftovers. A name too long for these
 * siblings is shortened with a hash ({@link SiblingNames}).
 */
public final class OutputDirectory implements AutoCloseable {
    /** The file that marks a directory as ours, so --force may replace it. */
    public static final String MARKER = "upcycle.json";
    static final String FORCE_HINT = "pass --force to replace it";

    private final Path target;
    private final Path staging;
    private final OutputLock lock;
    private final String where;
    private boolean committed;
    private boolean closed;

    private OutputDirectory(Path target, Path staging, OutputLock lock) {
        this.target = target;
        this.staging = staging;
        this.lock = lock;
        this.where = target.toString();
    }

    /**
     * Checks the target, takes the lock and creates the staging directory.
     *
     * @param force replace an existing upcycle output
     * @throws UpcycleException OutputExists, UnsafeOutput, OutputLocked, IoError
     */
    public static OutputDirectory create(Path target, boolean force) {
        Path abs = target.toAbsolutePath().normalize();
        String where = abs.toString();
        if (abs.getFileName() == null) {
            throw new UpcycleException(ErrorKind.UnsafeOutput, where, "the output cannot be a file-system root");
        }
        Path parent = abs.getParent();
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, parent.toString(), "cannot create directory: " + e, null, e);
        }
        OutputLock lock = OutputLock.take(OutputLock.fileFor(abs), where);
        Path staging = SiblingNames.sibling(abs, "tmp-" + random());
        try {
            recoverFromKilledRun(abs);
            checkTarget(abs, force);
            Files.createDirectory(staging);
        } catch (IOException e) {
            UpcycleException u = new UpcycleException(ErrorKind.IoError, staging.toString(),
                    "cannot create staging directory: " + e, null, e);
            release(lock, u);
            throw u;
        } catch (RuntimeException e) {
            release(lock, e);
            throw e;
        }
        return new OutputDirectory(abs, staging, lock);
    }

    /**
     * A run killed with SIGKILL leaves its staging directory behind; one killed inside
     * {@link #commit()} between its two renames leaves the previous output moved aside ("old",
     * still intact) with no target; one killed while deleting the replaced output leaves a
     * "trash" directory. We hold the lock, so no live run owns these: put an intact previous
     * output back when the target is missing (nothing is lost), and delete the rest.
     */
    private static void recoverFromKilledRun(Path target) throws IOException {
        String prefix = SiblingNames.prefix(target);
        List<Path> leftovers;
        try (Stream<Path> s = Files.list(target.getParent())) {
            leftovers = s.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(prefix + "tmp-") || n.startsWith(prefix + "old-") || n.startsWith(prefix + "trash-");
            }).sorted().toList();
        }
        for (Path p : leftovers) {
            boolean old = p.getFileName().toString().startsWith(prefix + "old-");
            if (old && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                Files.move(p, target, StandardCopyOption.ATOMIC_MOVE);
            } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(p);
            }
        }
    }

    private static void checkTarget(Path target, boolean force) {
        String where = target.toString();
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isSymbolicLink(target) || !Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new UpcycleException(force ? ErrorKind.UnsafeOutput : ErrorKind.OutputExists, where,
                    "exists and is not a directory; it is never replaced", "choose another output path");
        }
        boolean empty;
        try (Stream<Path> s = Files.list(target)) {
            empty = s.findAny().isEmpty();
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, where, "cannot list: " + e, null, e);
        }
        if (empty) {
            return;
        }
        boolean ours = Files.isRegularFile(target.resolve(MARKER), LinkOption.NOFOLLOW_LINKS);
        if (!force) {
            // Say at once when --force would not help: it replaces only what upcycle wrote.
            throw new UpcycleException(ErrorKind.OutputExists, where, ours ? "output directory exists and is not empty"
                    : "output directory exists, is not empty and was not written by upcycle (no " + MARKER
                            + "), so --force would not replace it", ours ? FORCE_HINT
                    : "choose another output path or remove it yourself");
        }
        if (!ours) {
            throw new UpcycleException(ErrorKind.UnsafeOutput, where, "--force only replaces an upcycle output (one with "
                    + MARKER + "); this directory has none", "choose another output path or remove it yourself");
        }
    }

    private static void release(OutputLock lock, Throwable cause) {
        try {
            lock.close();
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private static String random() {
        byte[] b = new byte[6];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** The final location. */
    public Path target() {
        return target;
    }

    /** Where to write until {@link #commit()}. */
    public Path staging() {
        return staging;
    }

    /**
     * Syncs every file and the staging directory, moves an existing target aside, renames
     * staging onto the target, then deletes the old output.
     */
    public void commit() {
        if (closed || committed) {
            throw new IllegalStateException("output " + target + " already " + (closed ? "closed" : "committed"));
        }
        try {
            List<Path> all;
            try (Stream<Path> s = Files.walk(staging)) {
                all = s.toList();
            }
            for (Path p : all) {
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                        ch.force(true);
                    }
                }
            }
            // Deepest first, so each directory entry is durable before its parent's.
            for (Path p : all.stream().sorted(Comparator.reverseOrder()).toList()) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    syncDirectory(p);
                }
            }
            Path old = null;
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                old = SiblingNames.sibling(target, "old-" + random());
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            try {
                Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                if (old != null) {
                    // Put the previous output back so a failed commit changes nothing.
                    try {
                        Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
                    } catch (IOException back) {
                        e.addSuppressed(back);
                    }
                }
                throw e;
            }
            committed = true;
            syncDirectory(target.getParent());
            if (old != null) {
                // Rename before deleting: a run killed while deleting leaves a "trash" directory,
                // which the next run deletes, never an "old" one it would take for an intact output.
                Path trash = SiblingNames.sibling(target, "trash-" + random());
                Files.move(old, trash, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(trash);
            }
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, where, "cannot commit output: " + e, null, e);
        }
    }

    private static void syncDirectory(Path dir) throws IOException {
        // Linux allows fsync on a directory opened read-only; that makes renames durable.
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** Deletes {@code root} and everything under it, deepest first, never following links. */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) {
            Files.delete(p);
        }
    }

    /** Removes the staging directory unless committed, then releases the lock. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        UpcycleException failure = null;
        if (!committed) {
            try {
                deleteTree(staging);
                if (Cancellation.requested()) {
                    Cancellation.note("removed the staging of " + target + ", "
                            + (Files.exists(target, LinkOption.NOFOLLOW_LINKS) ? "which is left as it was" : "nothing written"));
                }
            } catch (IOException e) {
                failure = new UpcycleException(ErrorKind.IoError, staging.toString(),
                        "cannot remove staging directory: " + e, null, e);
            }
        }
        try {
            lock.close();
        } catch (UpcycleException u) {
            if (failure == null) {
                failure = u;
            } else {
                failure.addSuppressed(u);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
