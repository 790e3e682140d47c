package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real 2.2 GiB file (writes ~4.5 GiB to disk): streamed write, reads past 2^31 bytes,
 * channel copy, full NaN/Inf scan, all in a 256 MiB heap. Run with {@code -Dgroups=large}.
 */
@Tag("large")
class LargeFileTest {
    @TempDir
    Path dir;

    private static final long ROWS = 576L * 1024;  // 589,824 rows
    private static final long COLS = 1024;         // F32: 4 KiB a row, 2.25 GiB in all
    private static final int CHUNK_ROWS = 256;     // 1 MiB per write

    /** Deterministic content: element i holds (float) (i % 1,000,003). */
    private static float value(long i) {
        return (float) (i % 1_000_003L);
    }

    @Test
    void twoGigabyteTensorStreamsInBoundedMemory() throws IOException {
        Runtime rt = Runtime.getRuntime();
        long t0 = System.nanoTime();
        long peak = 0;
        Path file = dir.resolve("big.safetensors");
        List<TensorSpec> specs = List.of(new TensorSpec("big", DType.F32, Shape.of(ROWS, COLS)),
                new TensorSpec("small", DType.BF16, Shape.of(3)));
        long[] peakHolder = {0};
        SafetensorsWriter.write(file, specs, Map.of(), (spec, sink) -> {
            if (spec.name().equals("small")) {
                sink.writeFloats(new float[] {1f, Float.NaN, 3f}, 0, 3);
                return;
            }
            ByteBuffer chunk = ByteBuffer.allocateDirect((int) (CHUNK_ROWS * COLS * 4)).order(ByteOrder.LITTLE_ENDIAN);
            long i = 0;
            for (long r = 0; r < ROWS; r += CHUNK_ROWS) {
                chunk.clear();
                for (int k = 0; k < CHUNK_ROWS * COLS; k++) {
                    chunk.putFloat(value(i++));
                }
                sink.write(chunk.flip());
                if ((r & 0xFFFF) == 0) {
                    peakHolder[0] = Math.max(peakHolder[0], rt.totalMemory() - rt.freeMemory());
                }
            }
        });
        long tWrite = System.nanoTime();
        peak = Math.max(peak, peakHolder[0]);

        Path copy = dir.resolve("copy.bin");
        long nonFinite;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorHeader big = f.tensor("big");
            assertThat(big.byteSize()).isEqualTo(ROWS * COLS * 4).isGreaterThan(1L << 31);
            assertThat(f.tensors()).extracting(TensorHeader::name).containsExactly("big", "small");
            assertThat(f.tensor("small").begin()).isEqualTo(big.byteSize());

            // rows whose bytes lie beyond 2^31
            long row = ((1L << 31) / (COLS * 4)) + 1234;
            ByteBuffer rows = f.readRows("big", row, 3);
            for (int k = 0; k < 3 * COLS; k += 511) {
                assertThat(rows.getFloat(k * 4)).isEqualTo(value(row * COLS + k));
            }
            float[] last = f.readRowsAsFloats("big", ROWS - 1, 1);
            assertThat(last[(int) COLS - 1]).isEqualTo(value(ROWS * COLS - 1));
            assertThat(f.readFloats("small")[2]).isEqualTo(3f);
            peak = Math.max(peak, rt.totalMemory() - rt.freeMemory());

            try (FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                assertThat(f.transferTo("big", out)).isEqualTo(big.byteSize());
            }
            long tCopy = System.nanoTime();

            // compare checksums chunk-wise: source tensor range vs the copy
            ByteBuffer a = ByteBuffer.allocateDirect(8 << 20);
            ByteBuffer b = ByteBuffer.allocateDirect(8 << 20);
            try (FileChannel c = FileChannel.open(copy, StandardOpenOption.READ)) {
                assertThat(c.size()).isEqualTo(big.byteSize());
                for (long off = 0; off < big.byteSize(); off += a.capacity()) {
                    int n = (int) Math.min(a.capacity(), big.byteSize() - off);
                    a.clear().limit(n);
                    b.clear().limit(n);
                    f.readBytes(big, off, a);
                    while (b.hasRemaining()) {
                        c.read(b, off + b.position());
                    }
                    CRC32 ca = new CRC32();
                    CRC32 cb = new CRC32();
                    ca.update(a.flip());
                    cb.update(b.flip());
                    assertThat(cb.getValue()).as("chunk at %d", off).isEqualTo(ca.getValue());
                }
            }
            long tCompare = System.nanoTime();
            peak = Math.max(peak, rt.totalMemory() - rt.freeMemory());

            nonFinite = f.countNonFinite("big");
            assertThat(nonFinite).isZero();
            assertThat(f.countNonFinite("small")).isEqualTo(1);
            long tScan = System.nanoTime();
            peak = Math.max(peak, rt.totalMemory() - rt.freeMemory());

            System.out.printf("LargeFileTest: file %d bytes; write %.1f s, transferTo %.1f s, "
                            + "chunked CRC compare %.1f s, countNonFinite %.1f s; max heap %d MiB, peak used %d MiB%n",
                    f.fileSize(), (tWrite - t0) / 1e9, (tCopy - tWrite) / 1e9, (tCompare - tCopy) / 1e9,
                    (tScan - tCompare) / 1e9, rt.maxMemory() >> 20, peak >> 20);
        }
    }
}
