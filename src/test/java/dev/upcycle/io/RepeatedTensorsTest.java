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
 * {@link TensorSink#repeat}: a tensor written again from the output, from the same file (right
 * after its first copy, while part of it may still wait in the pipeline, and far after it) and from
 * a previous shard file, gives the first copy's bytes, and the SHA-256 computed while writing still
 * equals a reread of every file. Where it cannot repeat (unknown tensor, other size, part of the
 * tensor already written), the sink writes nothing and says so.
 */
class RepeatedTensorsTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "direct I/O {0}")
    @ValueSource(booleans = {false, true})
    void repeatsFromTheSameFileAndFromAPreviousShardAreExactCopies(boolean direct) {
        DirectIo.with(tmp, direct, () -> repeatsFromTheSameFileAndFromAPreviousShardAreExactCopies());
    }

    private void repeatsFromTheSameFileAndFromAPreviousShardAreExactCopies() {
        Random rnd = new Random(11);
        int elems = (PipelinedFileSink.PIPE_BYTES * 5 / 4 + 6) / 2;
        ByteBuffer first = ByteBuffer.allocate(2 * elems).order(ByteOrder.LITTLE_ENDIAN);
        rnd.nextBytes(first.array());
        ByteBuffer other = ByteBuffer.allocate(2 * 1000).order(ByteOrder.LITTLE_ENDIAN);
        rnd.nextBytes(other.array());
        // File order is by name: a.0 (the first copy), a.1 right after it, b (other bytes), c.* later.
        List<TensorSpec> specs = new ArrayList<>(List.of(new TensorSpec("a.0", DType.BF16, Shape.of(elems)),
                new TensorSpec("a.1", DType.BF16, Shape.of(elems)), new TensorSpec("b", DType.BF16, Shape.of(1000))));
        for (int i = 0; i < 4; i++) {
            specs.add(new TensorSpec("c." + i, DType.BF16, Shape.of(elems)));
        }
        List<String> refused = new ArrayList<>();
        List<FileDigest> digests = new ArrayList<>();
        // Two shards: a.0, a.1, b and c.0 in the first; c.1 onwards repeat a.0 from the earlier file.
        WrittenCheckpoint out = CheckpointWriter.write(tmp.resolve("out"), specs, 3L * elems * 2 + 2000, Map.of(),
                (spec, sink) -> {
                    if (spec.name().equals("a.0")) {
                        assertThat(sink.repeat("a.0")).as("not written yet").isFalse();
                        sink.keepCached(); // with direct I/O its buffers go through the page cache
                        sink.write(first.duplicate());
                    } else if (spec.name().equals("b")) {
                        assertThat(sink.repeat("a.0")).as("other size").isFalse();
                        sink.write(other.duplicate().limit(10));
                        assertThat(sink.repeat("a.0")).as("partly written").isFalse();
                        sink.write(other.duplicate().position(10));
                        refused.add(spec.name());
                    } else {
                        assertThat(sink.repeat("unknown")).isFalse();
                        assertThat(sink.repeat("a.0")).as(spec.name()).isTrue();
                    }
                }, digests::add);
        assertThat(refused).containsExactly("b");
        assertThat(out.files()).hasSize(2);
        for (int i = 0; i < digests.size(); i++) {
            assertThat(digests.get(i)).isEqualTo(FileDigest.of(out.directory(), out.files().get(i)));
        }
        try (Checkpoint c = Checkpoint.open(out.directory())) {
            for (TensorSpec s : specs) {
                ByteBuffer want = s.name().equals("b") ? other.duplicate() : first.duplicate();
                assertThat(c.tensor(s.name()).file().read(s.name())).as(s.name()).isEqualTo(want);
            }
            assertThat(c.tensor("c.3").file().path()).isNotEqualTo(c.tensor("a.0").file().path());
        }
    }
}
