package dev.upcycle.io;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A file's size and SHA-256, as recorded in {@code upcycle.json}.
 *
 * @param path   path relative to the checkpoint directory, with '/' separators
 * @param size   bytes
 * @param sha256 lower-case hex digest
 */
public record FileDigest(String path, long size, String sha256) {

    private static final int CHUNK = 1 << 20;

    /** Streams {@code file} through SHA-256 in bounded memory; {@code root} makes the path relative. */
    public static FileDigest of(Path root, Path file) {
        String rel = root.relativize(file).toString().replace('\\', '/');
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
        long size = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(CHUNK);
            int n;
            while ((n = ch.read(buf)) >= 0) {
                Cancellation.check();
                if (n > 0) {
                    buf.flip();
                    md.update(buf);
                    buf.clear();
                    size += n;
                }
            }
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage());
        }
        return new FileDigest(rel, size, HexFormat.of().formatHex(md.digest()));
    }
}
