package dev.upcycle.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A Hugging Face hub cache in a temporary directory, laid out as the hub library writes it:
 * {@code models--ORG--NAME/blobs/<sha256>} holds the bytes, {@code refs/REVISION} a commit hash,
 * and {@code snapshots/<commit>/<file>} is a relative link {@code ../../blobs/<sha256>}.
 */
public final class HubFixture {
    private HubFixture() {
    }

    /** A fake commit hash (40 hex digits) derived from {@code text}. */
    public static String commit(String text) {
        return sha256(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)).substring(0, 40);
    }

    /**
     * Puts every regular file of {@code model} into {@code cache} as the snapshot of
     * {@code ORG/NAME} at {@code commit}, and points {@code refs/REVISION} at it.
     *
     * @return the snapshot directory
     */
    public static Path snapshot(Path cache, String repo, String revision, String commit, Path model) {
        try {
            Path root = cache.resolve("models--" + repo.replace("/", "--"));
            Path blobs = Files.createDirectories(root.resolve("blobs"));
            Path snapshot = Files.createDirectories(root.resolve("snapshots").resolve(commit));
            List<Path> files;
            try (Stream<Path> s = Files.list(model)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path f : files) {
                byte[] bytes = Files.readAllBytes(f);
                String sha = sha256(bytes);
                Path blob = blobs.resolve(sha);
                if (!Files.exists(blob)) {
                    Files.write(blob, bytes);
                }
                Files.createSymbolicLink(snapshot.resolve(f.getFileName()), Path.of("..", "..", "blobs", sha));
            }
            Path ref = root.resolve("refs").resolve(revision);
            Files.createDirectories(ref.getParent());
            Files.writeString(ref, commit);
            return snapshot;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@link #snapshot} at revision {@code main}. */
    public static Path snapshot(Path cache, String repo, Path model) {
        return snapshot(cache, repo, "main", commit(repo), model);
    }

    /** A blob holding {@code bytes} in {@code repo}'s blobs/, for links planted by a test. */
    public static Path blob(Path cache, String repo, byte[] bytes) {
        try {
            Path blobs = Files.createDirectories(cache.resolve("models--" + repo.replace("/", "--")).resolve("blobs"));
            Path blob = blobs.resolve(sha256(bytes));
            Files.write(blob, bytes);
            return blob;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
