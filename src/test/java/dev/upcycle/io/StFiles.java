package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Test helpers: hand-built safetensors bytes and error assertions. */
final class StFiles {
    private StFiles() {
    }

    /** {@code 8-byte LE n} + header + data, with any n (so lies are possible). */
    static byte[] bytes(long n, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(n).put(header).put(data).array();
    }

    static Path write(Path file, byte[] content) {
        try {
            Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** A file whose N is the true header length. */
    static Path file(Path file, String headerJson, int dataBytes) {
        byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
        return write(file, bytes(h.length, h, new byte[dataBytes]));
    }

    static Path file(Path file, byte[] header, int dataBytes) {
        return write(file, bytes(header.length, header, new byte[dataBytes]));
    }

    /** Asserts an UpcycleException of {@code kind} whose where/line names {@code mention}. */
    static UpcycleException assertFails(ThrowingCallable call, ErrorKind kind, String mention) {
        Throwable t = catchThrowable(call);
        assertThat(t).as("expected %s", kind).isInstanceOf(UpcycleException.class);
        UpcycleException u = (UpcycleException) t;
        assertThat(u.kind()).as(u.line()).isEqualTo(kind);
        assertThat(u.where()).as(u.line()).contains(mention);
        return u;
    }
}
