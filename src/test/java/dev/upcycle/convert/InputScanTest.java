package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.DType;
import dev.upcycle.io.Floats;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.Shape;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.io.WrittenCheckpoint;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The raw-bit NaN/Inf count, four 16-bit values per word, against a plain per-value count; the
 * inputs of a merge scanned on several threads give what scanning them one after another gives.
 */
class InputScanTest {
    @TempDir
    Path tmp;

    /**
     * Three seeds of three shards, seed 1 with a NaN in its second shard: one after another, the
     * scan stops after seed 1, and so does a scan on three threads, even when seed 2 is unreadable.
     * Seeds 0 and 2 (no NaN, seed 2 unreadable) fail on seed 2's first file either way.
     */
    @Test
    void parallelScanOfSeveralSeedsHasTheOutcomeOfOneAfterAnother() throws Exception {
        List<WrittenCheckpoint> written = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            written.add(seed(tmp.resolve("seed" + i), i == 1 ? 3 : -1));
        }
        List<List<SafetensorsFile>> seeds = new ArrayList<>();
        try {
            for (WrittenCheckpoint w : written) {
                seeds.add(w.files().stream().map(SafetensorsFile::open).toList());
            }
            List<InputScan.Result> one = InputScan.scanAll(seeds, true, 1);
            assertThat(one).hasSize(2);
            assertThat(one.get(0).firstNonFinite()).isNull();
            assertThat(one.get(1).digests()).hasSize(3);
            assertThat(one.get(1).firstNonFinite())
                    .isEqualTo(new InputScan.NonFinite("model-00002-of-00003.safetensors", "t.4", 1));
            assertThat(InputScan.scanAll(seeds, true, 3)).isEqualTo(one);

            for (Path f : written.get(2).files()) {
                Files.delete(f);
            }
            assertThat(InputScan.scanAll(seeds, true, 3)).isEqualTo(one);
            List<List<SafetensorsFile>> noNan = List.of(seeds.get(0), seeds.get(2));
            for (int threads : new int[] {1, 3}) {
                assertThatThrownBy(() -> InputScan.scanAll(noNan, true, threads)).isInstanceOfSatisfying(
                        UpcycleException.class, e -> {
                            assertThat(e.kind()).isEqualTo(ErrorKind.IoError);
                            assertThat(e.where()).isEqualTo(written.get(2).files().get(0).toString());
                        });
            }
        } finally {
            seeds.forEach(files -> files.forEach(SafetensorsFile::close));
        }
    }

    /** A seed of three shards of three BF16 tensors each; element {@code nanAt} of the fifth tensor is NaN when >= 0. */
    private static WrittenCheckpoint seed(Path dir, int nanAt) {
        List<TensorSpec> specs = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            specs.add(new TensorSpec("t." + i, DType.BF16, Shape.of(1000)));
        }
        Random rnd = new Random(dir.hashCode());
        return CheckpointWriter.write(dir, specs, 3 * 2000, Map.of(), (spec, sink) -> {
            float[] v = new float[1000];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextGaussian();
            }
            if (nanAt >= 0 && spec.name().equals("t.4")) {
                v[nanAt] = Float.NaN;
            }
            sink.writeFloats(v, 0, v.length);
        });
    }

    @Test
    void countsEveryNonFinite16BitValueWhereverItLies() {
        Random rnd = new Random(1);
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            for (int trial = 0; trial < 200; trial++) {
                int n = 1 + rnd.nextInt(64);
                ByteBuffer b = ByteBuffer.allocate(n * 2 + 6).order(ByteOrder.LITTLE_ENDIAN);
                int off = 2 * rnd.nextInt(3);
                long want = 0;
                for (int i = 0; i < n; i++) {
                    float v = switch (rnd.nextInt(8)) {
                        case 0 -> Float.NaN;
                        case 1 -> Float.NEGATIVE_INFINITY;
                        case 2 -> Float.POSITIVE_INFINITY;
                        default -> (float) (rnd.nextGaussian() * 1000);
                    };
                    short bits = d == DType.BF16 ? Floats.f32ToBf16(v) : Floats.f32ToF16(v);
                    float back = d == DType.BF16 ? Floats.bf16ToF32(bits) : Floats.f16ToF32(bits);
                    want += Float.isFinite(back) ? 0 : 1;
                    b.putShort(off + 2 * i, bits);
                }
                assertThat(InputScan.count(b, off, off + 2 * n, d)).as(d + " trial " + trial).isEqualTo(want);
            }
        }
    }

    /** Every 16-bit pattern at every lane of a word and at every start offset, against a per-value count. */
    @Test
    void countsEvery16BitPatternInEveryLane() {
        for (DType d : new DType[] {DType.BF16, DType.F16}) {
            int exp = d == DType.BF16 ? 0x7F80 : 0x7C00;
            for (int off = 0; off < 8; off += 2) {
                ByteBuffer b = ByteBuffer.allocate(off + 2 * 65536 + 6).order(ByteOrder.LITTLE_ENDIAN);
                long want = 0;
                for (int bits = 0; bits < 65536; bits++) {
                    b.putShort(off + 2 * bits, (short) bits);
                    want += (bits & exp) == exp ? 1 : 0;
                }
                for (int end = off + 2 * 65536 - 6; end <= off + 2 * 65536; end += 2) {
                    long tail = 0;
                    for (int i = end; i < off + 2 * 65536; i += 2) {
                        tail += (b.getShort(i) & exp) == exp ? 1 : 0;
                    }
                    assertThat(InputScan.count(b, off, end, d)).as("%s from %d to %d", d, off, end).isEqualTo(want - tail);
                }
            }
        }
    }
}
