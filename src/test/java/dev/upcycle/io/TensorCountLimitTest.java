package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.error.ErrorKind;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A header declaring more tensors than any real checkpoint is refused before they fill the heap. */
class TensorCountLimitTest {
    @TempDir
    Path tmp;

    private static byte[] header(int tensors) {
        StringBuilder b = new StringBuilder(tensors * 56).append('{');
        for (int i = 0; i < tensors; i++) {
            // zero-size tensors: valid entries that take no data bytes
            b.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],")
                    .append("\"data_offsets\":[0,0]}");
        }
        return b.append('}').toString().getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void tooManyTensorsIsHeaderTooLarge() {
        Path f = StFiles.file(tmp.resolve("many.safetensors"), header(HeaderParser.MAX_TENSORS + 1), 0);
        StFiles.assertFails(() -> SafetensorsFile.open(f).close(), ErrorKind.HeaderTooLarge, "many.safetensors");
    }

    @Test
    void manyZeroSizeTensorsBelowTheLimitAreFine() throws IOException {
        Path f = StFiles.file(tmp.resolve("ok.safetensors"), header(10_000), 0);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertThat(s.tensors()).hasSize(10_000);
        }
    }
}
