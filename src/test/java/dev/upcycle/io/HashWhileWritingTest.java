package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SHA-256 the writer computes while writing (buffers hashed after their write, channel copies
 * hashed from their source range) equals a second read of each finished file, for files that mix
 * buffered writes, float encoding and channel copies of whole tensors and of byte ranges, over
 * several shards and more bytes than the pipeline buffers hold.
 */
class HashWhileWritingTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "direct I/O {0}")
    @ValueSource(booleans = {false, true})
    void digestsComputedWhileWritingMatchARereadOfEveryShard(boolean direct) {
        DirectIo.with(tmp, direct, () -> digestsComputedWhileWritingMatchARereadOfEveryShard());
    }

    private void digestsComputedWhileWritingMatchARereadOfEveryShard() {
        Random rnd = new Random(7);
        // A source file: one tensor larger than a pipeline buffer, and one small.
        int bigElems = (PipelinedFileSink.PIPE_BYTES * 5 / 4 + 6) / 2;
        float[] big = new float[bigElems];
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) rnd.nextGaussian();
        }
        Path srcDir = tmp.resolve("src");
        CheckpointWriter.write(srcDir, List.of(new TensorSpec("big", DType.BF16, Shape.of(bigElems)),
                new TensorSpec("small", DType.BF16, Shape.of(10))), Long.MAX_VALUE, Map.of(), (spec, sink) -> {
                    if (spec.name().equals("big")) {
                        sink.writeFloats(big, 0, big.length);
                    } else {
                        sink.writeFloats(big, 0, 10);
                    }
                });

        List<TensorSpec> specs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            specs.add(new TensorSpec("copy." + i, DType.BF16, Shape.of(bigElems)));
            specs.add(new TensorSpec("range." + i, DType.BF16, Shape.of(1000)));
            specs.add(new TensorSpec("bytes." + i, DType.BF16, Shape.of(bigElems)));
            specs.add(new TensorSpec("floats." + i, DType.F32, Shape.of(3001)));
        }
        List<FileDigest> digests = new ArrayList<>();
        try (SafetensorsFile src = SafetensorsFile.open(srcDir.resolve(CheckpointWriter.SINGLE_FILE))) {
            TensorHeader h = src.tensor("big");
            WrittenCheckpoint out = CheckpointWriter.write(tmp.resolve("out"), specs, 3L * bigElems * 2,
                    Map.of(), (spec, sink) -> {
                        String kind = spec.name().substring(0, spec.name().indexOf('.'));
                        switch (kind) {
                            case "copy" -> sink.transferFrom(src, h);
                            case "range" -> sink.transferFrom(src, h, 2 * 12345, 2000);
                            case "bytes" -> {
                                ByteBuffer b = ByteBuffer.allocate((int) spec.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                                rnd.nextBytes(b.array());
                                // In odd pieces, so buffer boundaries fall anywhere.
                                for (int at = 0; at < b.capacity(); ) {
                                    int n = Math.min(b.capacity() - at, 1 + rnd.nextInt(3 << 20));
                                    sink.write(b.duplicate().position(at).limit(at + n));
                                    at += n;
                                }
                            }
                            default -> sink.writeFloats(big, 5, 3001);
                        }
                    }, digests::add);
            assertThat(out.files()).hasSizeGreaterThan(3);
            assertThat(digests).hasSameSizeAs(out.files());
            for (int i = 0; i < digests.size(); i++) {
                FileDigest reread = FileDigest.of(out.directory(), out.files().get(i));
                assertThat(digests.get(i)).isEqualTo(reread);
            }
        }
    }
}
