package dev.upcycle.io;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Names of the hidden files beside an output ({@code .NAME.upcycle-lock}, staging, moved-aside
 * and trash directories). File names are limited to 255 bytes, so an output name near that limit
 * would leave no room for the prefix and suffix: such a name is shortened to its first bytes plus
 * a hash of the whole name, which keeps every sibling name short, distinct per output, and the
 * same in every run (leftovers of a killed run are still found by their prefix).
 */
public final class SiblingNames {
    /** The file-name limit of Linux, macOS and Windows file systems, in bytes. */
    static final int MAX_NAME_BYTES = 255;
    /** Room kept for the longest suffix after the prefix (e.g. {@code trash-} or {@code old-} + a number). */
    static final int SUFFIX_BYTES = 64;
    private static final String MARK = ".upcycle-";
    /** Longest output name kept whole: "." + name + ".upcycle-" + suffix stays within the limit. */
    static final int MAX_STEM_BYTES = MAX_NAME_BYTES - 1 - MARK.length() - SUFFIX_BYTES;

    private SiblingNames() {
    }

    /** {@code .NAME.upcycle-} for {@code target}, NAME shortened when it is too long. */
    public static String prefix(Path target) {
        return "." + stem(target.getFileName().toString()) + MARK;
    }

    /** The sibling of {@code target} named {@link #prefix} + {@code suffix} (at most {@value #SUFFIX_BYTES} bytes). */
    public static Path sibling(Path target, String suffix) {
        return target.resolveSibling(prefix(target) + suffix);
    }

    static String stem(String name) {
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= MAX_STEM_BYTES) {
            return name;
        }
        String hash = HexFormat.of().formatHex(sha256(utf8), 0, 8);
        int keep = MAX_STEM_BYTES - hash.length() - 1;
        // Cut on a character boundary: never inside a multi-byte UTF-8 sequence.
        StringBuilder b = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < name.length(); ) {
            int cp = name.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > keep) {
                break;
            }
            b.appendCodePoint(cp);
            bytes += n;
            i += Character.charCount(cp);
        }
        return b.append('~').append(hash).toString();
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
