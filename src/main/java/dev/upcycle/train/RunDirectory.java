package dev.upcycle.train;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.JsonFiles;
import dev.upcycle.io.OutputDirectory;
import dev.upcycle.io.Provenance;
import dev.upcycle.io.SiblingNames;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * The run directory {@code OUT}. Unlike convert's output it is not renamed into place at the end
 * (its checkpoints must survive a crash); instead each {@code checkpoints/step-N} is complete or
 * absent, and the final model is complete once its {@code upcycle.json} exists (written last).
 * An existing non-empty {@code OUT} is refused unless {@code --force} is given and it is a train
 * run directory or an upcycle output, or unless {@code --resume} points inside it (then it is
 * continued in place).
 */
final class RunDirectory {
    private RunDirectory() {
    }

    /**
     * The run directory as {@link #prepare} left it.
     *
     * @param created whether this run made it (false: a resumed run continues a directory in place)
     */
    record Prepared(Path dir, boolean created) {
    }

    /** Makes OUT ready for the run {@code c}, holding its current {@code train-config.json}. */
    static Prepared prepare(TrainConfig c) {
        Path out = c.output().toAbsolutePath().normalize();
        try {
            deleteLeftovers(out);
            if (Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS) && !empty(out)) {
                boolean inside = c.resume() != null && c.resume().toAbsolutePath().normalize().startsWith(out);
                if (!inside) {
                    boolean ours = Files.isRegularFile(out.resolve(TrainConfig.FILE_NAME))
                            || Files.isRegularFile(out.resolve(Provenance.FILE_NAME));
                    if (!c.force()) {
                        // Say at once when --force would not help: it replaces only runs and upcycle outputs.
                        throw new UpcycleException(ErrorKind.OutputExists, out.toString(), ours
                                ? "output directory exists and is not empty"
                                : "output directory exists, is not empty and is neither a train run nor an upcycle "
                                        + "output, so --force would not replace it",
                                ours ? "pass --force to replace it" : "choose another output path or remove it yourself");
                    }
                    if (!ours) {
                        throw new UpcycleException(ErrorKind.UnsafeOutput, out.toString(), "--force only replaces a train "
                                + "run or an upcycle output; this directory is neither", "choose another output path");
                    }
                    // Move the old run aside in one rename and delete it afterwards: deleting it in place
                    // could leave a half-deleted checkpoint behind if this run is killed meanwhile.
                    Path old = SiblingNames.sibling(out, OLD + System.nanoTime());
                    Files.move(out, old, StandardCopyOption.ATOMIC_MOVE);
                } else {
                    Files.deleteIfExists(out.resolve(Provenance.FILE_NAME)); // the final model is rewritten
                }
            } else if (Files.exists(out, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS)) {
                throw new UpcycleException(ErrorKind.OutputExists, out.toString(), "exists and is not a directory");
            }
            boolean created = !Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS) || empty(out);
            if (created) {
                create(out, c);
            } else {
                JsonFiles.write(out.resolve(TrainConfig.FILE_NAME), c.toJson()); // a resumed run's options
            }
            deleteLeftovers(out);
            return new Prepared(out, created);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, out.toString(), "cannot prepare the output: " + e);
        }
    }

    /**
     * Creates {@code OUT} holding its {@code train-config.json} in one rename, so that no kill can
     * leave an {@code OUT} without the file that marks it as a train run (--force would then refuse it).
     */
    private static void create(Path out, TrainConfig c) throws IOException {
        Path staging = SiblingNames.sibling(out, NEW + System.nanoTime());
        Files.createDirectories(staging);
        JsonFiles.write(staging.resolve(TrainConfig.FILE_NAME), c.toJson());
        if (Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(out); // empty: replaced by the staged directory
        }
        Files.move(staging, out, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * After SIGINT or SIGTERM: names the newest complete checkpoint to resume from; without one,
     * removes an {@code OUT} this run created (it holds nothing worth keeping).
     */
    static void afterInterrupt(TrainConfig c, boolean existedBefore) {
        Path out = c.output().toAbsolutePath().normalize();
        Path newest = newestCheckpoint(out.resolve("checkpoints"));
        if (newest != null) {
            Cancellation.note("last complete checkpoint " + newest.getFileName() + " in " + newest.getParent()
                    + ", resume with --resume " + newest);
            return;
        }
        if (c.resume() != null) {
            Cancellation.note("no newer checkpoint; resume again with --resume " + c.resume());
        } else if (!Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
            Cancellation.note("nothing written");
        } else if (!existedBefore && !Files.exists(out.resolve(Provenance.FILE_NAME))) {
            try {
                OutputDirectory.deleteTree(out);
                Cancellation.note("no checkpoint had been written; removed " + out);
            } catch (IOException e) {
                Cancellation.note("no checkpoint had been written; could not remove " + out + ": " + e);
            }
        } else {
            Cancellation.note("no checkpoint had been written; " + out + " is incomplete, rerun with --force");
        }
    }

    /** The {@code step-N} directory with the largest N (each is complete or absent), or null. */
    static Path newestCheckpoint(Path checkpoints) {
        if (!Files.isDirectory(checkpoints, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        try (Stream<Path> s = Files.list(checkpoints)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d{1,9}")
                            && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
                    .max(java.util.Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString().substring(5))))
                    .orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * After a failed run: removes a run directory this run created unless it holds a checkpoint to
     * resume from, so a failure leaves no half-made OUT that the rerun would need --force to replace.
     * A directory that existed before (a resumed run) is left as it is.
     */
    static void discardFailed(Prepared run) {
        if (!run.created() || hasCheckpoint(run.dir())) {
            return;
        }
        try {
            // Out of the way in one rename, then deleted: a kill meanwhile leaves a leftover the next run removes.
            Path old = SiblingNames.sibling(run.dir(), OLD + System.nanoTime());
            Files.move(run.dir(), old, StandardCopyOption.ATOMIC_MOVE);
            OutputDirectory.deleteTree(old);
        } catch (IOException | RuntimeException e) {
            // Best effort: the run's own error is what the user must see.
        }
    }

    private static boolean hasCheckpoint(Path out) {
        Path dir = out.resolve("checkpoints");
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith("step-"));
        } catch (IOException e) {
            return true; // cannot tell: keep it
        }
    }

    private static final String OLD = "old-";
    private static final String NEW = "new-";

    private static boolean empty(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /**
     * Deletes earlier runs moved aside by --force (also those a killed run left half-deleted) and
     * run directories a killed run was still staging.
     */
    private static void deleteLeftovers(Path out) throws IOException {
        Path parent = out.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        String old = SiblingNames.prefix(out) + OLD;
        String staged = SiblingNames.prefix(out) + NEW;
        List<Path> leftovers;
        try (Stream<Path> s = Files.list(parent)) {
            leftovers = s.filter(p -> p.getFileName().toString().startsWith(old)
                    || p.getFileName().toString().startsWith(staged)).toList();
        }
        for (Path dir : leftovers) {
            OutputDirectory.deleteTree(dir);
        }
    }
}
