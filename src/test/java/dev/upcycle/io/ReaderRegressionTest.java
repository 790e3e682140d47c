package dev.upcycle.io;

import static dev.upcycle.io.StFiles.assertFails;

import dev.upcycle.error.ErrorKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression tests for reader bugs found by the hostile corpus and fuzzing (issue 9). Tests run in a
 * 256 MiB heap, so a reader that materialises a large header as text fails here.
 */
class ReaderRegressionTest {
    @TempDir
    Path dir;

    /** Was OutOfMemoryError: the header was decoded to a CharBuffer and a String (3 x N). */
    @Test
    void fiftyMegabyteStringIsRejectedWithoutDecodingTheHeader() throws IOException {
        Path f = dir.resolve("bomb.safetensors");
        bigHeader(f, "{\"__metadata__\":{\"x\":\"", 'x', 50 << 20, "\"}}");
        assertFails(() -> SafetensorsFile.open(f).close(), ErrorKind.InvalidHeaderJson, "bomb.safetensors");
    }

    @Test
    void ninetyMegabytesOfWhitespaceAreReadInBoundedMemory() throws IOException {
        Path f = dir.resolve("spaces.safetensors");
        bigHeader(f, "{", ' ', 90_000_000, "} x");
        assertFails(() -> SafetensorsFile.open(f).close(), ErrorKind.InvalidHeaderJson, "spaces.safetensors");
    }

    /** Was IndexMismatch: the shard holding the second copy was compared with the index first. */
    @Test
    void tensorInTwoShardsIsADuplicateWhateverTheIndexSays() throws IOException {
        String a = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        String b = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        StFiles.file(dir.resolve("s1.safetensors"), a, 4);
        StFiles.file(dir.resolve("s2.safetensors"), b, 8);
        java.nio.file.Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\":{\"a\":\"s2.safetensors\",\"b\":\"s2.safetensors\",\"c\":\"s1.safetensors\"}}");
        assertFails(() -> Checkpoint.open(dir).close(), ErrorKind.DuplicateTensorName, "s2.safetensors");
    }

    static void bigHeader(Path file, String head, char fill, int count, String tail) throws IOException {
        byte[] h = head.getBytes(StandardCharsets.UTF_8);
        byte[] t = tail.getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            write(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length + (long) count + t.length)
                    .flip());
            write(ch, ByteBuffer.wrap(h));
            byte[] chunk = new byte[1 << 20];
            Arrays.fill(chunk, (byte) fill);
            for (int left = count; left > 0; left -= chunk.length) {
                write(ch, ByteBuffer.wrap(chunk, 0, Math.min(left, chunk.length)));
            }
            write(ch, ByteBuffer.wrap(t));
        }
    }

    private static void write(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
