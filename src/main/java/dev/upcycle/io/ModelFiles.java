package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one rule for every file read from a model directory (weights, index, config, tokenizer
 * and generation files, upcycle.json, trainer state): the name, links followed, must be a
 * regular file inside the directory or, when the directory is a snapshot of a Hugging Face cache
 * ({@code <cache>/models--ORG--NAME/snapshots/REV/}, whose files are links to
 * {@code ../../blobs/<hash>}), inside that same repository's {@code blobs/}. Anything else (a link
 * leading elsewhere or into another repository, a dangling link, a directory, a FIFO, a device)
 * is refused with UnsafePath before a byte of it is read.
 *
 * <p>Paths handed back keep the name the user gave (the snapshot path, not the blob's hash), so
 * messages name what the user typed; copies read the resolved file without following links again.
 */
public final class ModelFiles {
    /**
     * Tokenizer and generation files that travel with a model: convert and train copy those
     * present into their outputs, by content.
     */
    public static final List<String> SIDE_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "vocab.json", "merges.txt", "generation_config.json",
            "added_tokens.json", "chat_template.jinja");

    private static final String LINK_HINT = "a link may lead only inside the model directory, or from a Hugging Face "
            + "cache snapshot into that repository's blobs/; replace the link with a copy of the file";

    private final Path dir;
    private final Path realDir;
    /** The repository's blobs directory (real path) when {@code dir} is a cache snapshot, else null. */
    private final Path blobs;
    /** {@code ORG/NAME} when {@code dir} is a cache snapshot, else null. */
    private final String repoId;

    private ModelFiles(Path dir, Path realDir, Path blobs, String repoId) {
        this.dir = dir;
        this.realDir = realDir;
        this.blobs = blobs;
        this.repoId = repoId;
    }

    /**
     * The files of {@code dir}.
     *
     * @throws UpcycleException NoCheckpoint when {@code dir} is not a directory, IoError when it
     *                          cannot be resolved
     */
    public static ModelFiles of(Path dir) {
        Path real;
        try {
            real = dir.toRealPath();
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.NoCheckpoint, dir.toString(), Files.exists(dir, LinkOption.NOFOLLOW_LINKS)
                    ? "cannot resolve the directory (" + e.getMessage() + ")" : "no such file or directory");
        }
        if (!Files.isDirectory(real)) {
            throw new UpcycleException(ErrorKind.NoCheckpoint, dir.toString(), "not a directory");
        }
        for (Path snapshot = real; snapshot.getParent() != null && snapshot.getParent().getParent() != null;
                snapshot = snapshot.getParent()) {
            Path snapshots = snapshot.getParent();
            Path repo = snapshots.getParent();
            String repoName = repo.getFileName() == null ? "" : repo.getFileName().toString();
            if (snapshots.getFileName().toString().equals("snapshots") && repoName.startsWith("models--")) {
                Path blobs = repo.resolve("blobs");
                // The hub library makes blobs/ a plain directory; a link there could widen the rule.
                if (Files.isDirectory(blobs, LinkOption.NOFOLLOW_LINKS)) {
                    return new ModelFiles(dir, real, blobs, HubCache.repoIdOf(repoName));
                }
            }
        }
        return new ModelFiles(dir, real, null, null);
    }

    /** The directory as given. */
    public Path directory() {
        return dir;
    }

    /** Whether the directory is a Hugging Face cache snapshot (its links into blobs/ are followed). */
    public boolean isCacheSnapshot() {
        return blobs != null;
    }

    /** The repository id ({@code ORG/NAME}) of a cache snapshot. */
    public Optional<String> repoId() {
        return Optional.ofNullable(repoId);
    }

    /**
     * {@code name} (relative to the directory) checked by the rule, as the user would name it.
     *
     * @param ifMissing the error when nothing of that name exists
     * @throws UpcycleException {@code ifMissing}, or UnsafePath
     */
    public Path file(String name, ErrorKind ifMissing) {
        Path p = dir.resolve(name);
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new UpcycleException(ifMissing, p.toString(), "file does not exist");
        }
        resolve(p);
        return p;
    }

    /** As {@link #file}, or empty when nothing of that name exists (a dangling link exists: it is refused). */
    public Optional<Path> optional(String name) {
        Path p = dir.resolve(name);
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        resolve(p);
        return Optional.of(p);
    }

    /**
     * Every side file present, each checked by the rule, so that one unsafe link stops the
     * command before anything is read or written.
     */
    public List<Path> sideFiles() {
        List<Path> out = new ArrayList<>();
        for (String name : SIDE_FILES) {
            optional(name).ifPresent(out::add);
        }
        return out;
    }

    /**
     * Copies {@code name} into {@code target} by content (never as a link), replacing it: the
     * resolved file is opened without following links, so a link swapped in after the check is
     * not followed either.
     */
    public void copy(String name, Path target) throws IOException {
        Path real = resolve(file(name, ErrorKind.NoCheckpoint));
        try (InputStream in = Files.newInputStream(real, LinkOption.NOFOLLOW_LINKS)) {
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The real file behind {@code p}, which must obey the rule. */
    private Path resolve(Path p) {
        Path real;
        try {
            real = p.toRealPath();
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.UnsafePath, p.toString(),
                    "is a link that does not resolve (" + e.getMessage() + ")",
                    "the link's target is missing: restore the file or copy it into the directory");
        }
        boolean inside = real.startsWith(realDir) && !real.equals(realDir);
        boolean inBlobs = blobs != null && real.startsWith(blobs) && !real.equals(blobs);
        if (!inside && !inBlobs) {
            throw new UpcycleException(ErrorKind.UnsafePath, p.toString(), "resolves to " + real
                    + ", outside the checkpoint directory " + realDir
                    + (blobs == null ? "" : " and its repository's " + blobs), LINK_HINT);
        }
        if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
            throw new UpcycleException(ErrorKind.UnsafePath, p.toString(), "is not a regular file ("
                    + kind(real) + ")", "a model's files must be regular files");
        }
        return real;
    }

    private static String kind(Path real) {
        if (Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS)) {
            return "a directory";
        }
        return "a FIFO, socket or device";
    }
}
