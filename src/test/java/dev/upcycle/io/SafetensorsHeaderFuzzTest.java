package dev.upcycle.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Fuzzes the safetensors header reader (issue 9): the input is a whole file. The only
 * acceptable outcomes are a validated header or an {@link UpcycleException}; anything else
 * (NPE, ArithmeticException, IllegalArgumentException, OutOfMemoryError, StackOverflowError)
 * is a bug. A normal build runs the seeds in {@code SafetensorsHeaderFuzzTestInputs/header};
 * {@code scripts/fuzz} fuzzes.
 */
class SafetensorsHeaderFuzzTest {
    static final String WHERE = "fuzz.safetensors";

    @FuzzTest
    void header(byte[] file) {
        try {
            HeaderParser.Parsed p = parseFile(file);
            checkInvariants(p, file.length);
        } catch (UpcycleException expected) {
            // the documented outcome for a bad file
            if (expected.line().indexOf('\n') >= 0 || expected.line().length() > 2000) {
                throw new AssertionError("error is not one bounded line: " + expected.line());
            }
        }
    }

    /** What {@link SafetensorsFile#open} does, from bytes instead of a file. */
    static HeaderParser.Parsed parseFile(byte[] file) {
        if (file.length < 8) {
            throw new UpcycleException(ErrorKind.HeaderTooSmall, WHERE, file.length + " bytes");
        }
        long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        HeaderParser.checkLength(n, file.length, WHERE);
        return HeaderParser.parse(Arrays.copyOfRange(file, 8, 8 + (int) n), file.length, WHERE);
    }

    /** A header that passed must describe contiguous tensors exactly filling the data buffer. */
    static void checkInvariants(HeaderParser.Parsed p, long fileLength) {
        long end = 0;
        for (TensorHeader t : p.tensors()) {
            if (t.begin() != end || t.byteSize() != t.end() - t.begin()
                    || t.shape().byteSize(t.dtype(), WHERE) != t.byteSize()) {
                throw new AssertionError("accepted an inconsistent tensor " + t);
            }
            end = t.end();
        }
        if (end > fileLength) {
            throw new AssertionError("accepted tensors past the end of the file");
        }
    }
}
