package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.Floats;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.PlannedTensor;
import dev.upcycle.plan.TensorSource;
import dev.upcycle.plan.UpcyclePlan;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.synth.Synthesizer;
import dev.upcycle.testing.TinyModels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chunked paths of {@link PlanExecutor} (scaled whole tensors and row slices, column slices,
 * merge means) on tensors of several chunks: the weights are the same bytes with one worker and
 * with three, and each tensor equals its element-by-element definition computed here from the
 * inputs (the scale and the mean in float64, rounded to float32 to odd, then to BF16 nearest even).
 */
class ChunkedConversionTest {
    @TempDir
    static Path tmp;
    static Path dense;
    static Path seed1;

    /** bf16, one layer; FFN matrices of 3.1M elements, embeddings of 2.1M: each more than one chunk. */
    private static Path model(Path dir, long seed) throws Exception {
        ModelConfig c = ModelConfig.builder(TinyModels.FAMILIES.byName("llama")).numHiddenLayers(1)
                .hiddenSize(1024).numAttentionHeads(4).numKeyValueHeads(2).headDim(256).intermediateSize(3072)
                .vocabSize(2048).maxPositionEmbeddings(256).build();
        Files.createDirectories(dir);
        Synthesizer.write(c, DType.BF16, seed, 1L << 40, dir);
        return dir;
    }

    @BeforeAll
    static void models() throws Exception {
        dense = model(tmp.resolve("dense"), 7);
        seed1 = model(tmp.resolve("seed1"), 8);
    }

    @Test
    void scaledWholeExperts() throws Exception {
        check(List.of(dense), UpcycleRequest.of(UpcycleSpec.of(4, 2, 1)), "scaled");
        // The first copy of each scaled FFN matrix is kept in the page cache for the 3 that follow.
        assertThat(last.kept()).isEqualTo(3);
        assertThat(last.repeated()).isEqualTo(3 * 3);
    }

    @Test
    void scaledColumnAndRowSlices() throws Exception {
        check(List.of(dense), UpcycleRequest.of(UpcycleSpec.of(8, 4, 2)), "fine");
    }

    /**
     * Every copy of a scaled expert weight and of a scaled fine-grained slice after the first is
     * read back from the output, also when the first copy lies in an earlier shard file.
     */
    @Test
    void repeatedExpertsAcrossShards() throws Exception {
        // FFN matrices of 6.3 MB, two per shard: most later copies lie in another file than their first.
        long shard = 13_000_000L;
        // 4 copies of 3 matrices: 3 later copies each.
        assertThat(check(List.of(dense), UpcycleRequest.of(UpcycleSpec.of(4, 2, 1)).withMaxShardSize(shard),
                "scaled-shards")).isEqualTo(3 * 3);
        // 8 experts = 4 copies of 2 slices of 3 matrices: 3 later copies of each slice.
        assertThat(check(List.of(dense), UpcycleRequest.of(UpcycleSpec.of(8, 4, 2)).withMaxShardSize(shard),
                "fine-shards")).isEqualTo(3 * 2 * 3);
    }

    @Test
    void mergeMeans() throws Exception {
        UpcycleSpec spec = UpcycleSpec.builder().experts(2).topK(1).routing(RoutingMode.TOPK_SOFTMAX)
                .routerInit(RouterInit.RANDOM).routerStd(0.02).build();
        check(List.of(dense, seed1), UpcycleRequest.of(spec).withTarget("auto"), "merge");
        // Every mean is a tensor of its own: nothing is read back, so nothing is kept in the page cache.
        assertThat(last.kept()).isZero();
        assertThat(last.repeated()).isZero();
    }

    /** The executor with three workers of the last {@link #check}. */
    private PlanExecutor last;

    /** Returns how many tensors the run with three workers wrote by reading back an earlier one. */
    private int check(List<Path> inputs, UpcycleRequest request, String name) throws Exception {
        UpcyclePlan plan = ConvertFixtures.converter().plan(inputs, request);
        List<Checkpoint> seeds = new ArrayList<>();
        inputs.forEach(p -> seeds.add(Checkpoint.open(p)));
        try {
            Path one = tmp.resolve(name + "-1");
            Path three = tmp.resolve(name + "-3");
            new PlanExecutor(plan, seeds, null, 1).write(one);
            PlanExecutor threeWorkers = new PlanExecutor(plan, seeds, null, 3);
            last = threeWorkers;
            threeWorkers.write(three);
            List<String> files;
            try (var s = Files.list(one)) {
                files = s.map(p -> p.getFileName().toString()).sorted().toList();
            }
            for (String f : files) {
                // streamed comparison: the test JVM's heap is small and the files are tens of MB
                assertThat(Files.mismatch(three.resolve(f), one.resolve(f))).as(f).isEqualTo(-1L);
            }
            int checked = 0;
            try (Checkpoint out = Checkpoint.open(one)) {
                for (PlannedTensor t : plan.tensors()) {
                    ByteBuffer want = expected(t.source(), seeds.get(0), seeds);
                    if (want == null) {
                        continue; // routers, zeros, constants: not chunked
                    }
                    TensorRef ref = out.tensor(t.name());
                    assertThat(ref.file().read(t.name())).as(t.name()).isEqualTo(want);
                    checked++;
                }
            }
            assertThat(checked).isGreaterThan(5);
            if (plan.request().maxShardSize() < UpcycleRequest.DEFAULT_SHARD_SIZE) {
                assertThat(files).as("shards").hasSizeGreaterThan(3);
            }
            return threeWorkers.repeated();
        } finally {
            seeds.forEach(Checkpoint::close);
        }
    }

    /** The tensor's bytes by definition, element by element; null for sources that are not chunked. */
    private static ByteBuffer expected(TensorSource src, Checkpoint source, List<Checkpoint> seeds) {
        if (src instanceof TensorSource.Seed s) {
            return expected(s.source(), seeds.get(s.index()), seeds);
        }
        if (src instanceof TensorSource.Copy c) {
            return read(source, c.sourceName()).bytes;
        }
        if (src instanceof TensorSource.RowSlice r) {
            Bf16 in = read(source, r.sourceName());
            int cols = in.cols;
            return scaled(in, r.start(), r.end(), 0, cols, r.factor());
        }
        if (src instanceof TensorSource.ColumnSlice c) {
            Bf16 in = read(source, c.sourceName());
            return scaled(in, 0, in.rows, c.start(), c.end(), c.factor());
        }
        if (src instanceof TensorSource.Mean m) {
            List<Bf16> parts = new ArrayList<>();
            for (TensorSource p : m.parts()) {
                TensorSource.Seed s = (TensorSource.Seed) p;
                parts.add(read(seeds.get(s.index()), ((TensorSource.Copy) s.source()).sourceName()));
            }
            int n = parts.get(0).bytes.remaining() / 2;
            ByteBuffer out = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) {
                double sum = 0;
                for (Bf16 p : parts) {
                    sum += Floats.bf16ToF32(p.bytes.getShort(2 * i));
                }
                out.putShort(Floats.f32ToBf16(RoundingTest.reference(sum / parts.size(), true)));
            }
            return out.flip();
        }
        return null;
    }

    private record Bf16(ByteBuffer bytes, int rows, int cols) {
    }

    private static Bf16 read(Checkpoint c, String name) {
        TensorRef ref = c.tensor(name);
        assertThat(ref.header().dtype()).isEqualTo(DType.BF16);
        long[] dims = ref.header().shape().dims();
        SafetensorsFile f = ref.file();
        ByteBuffer b = f.read(name).order(ByteOrder.LITTLE_ENDIAN);
        int rows = dims.length == 1 ? 1 : (int) dims[0];
        return new Bf16(b, rows, (int) (b.remaining() / 2 / rows));
    }

    private static ByteBuffer scaled(Bf16 in, int r0, int r1, int c0, int c1, double factor) {
        ByteBuffer out = ByteBuffer.allocate(2 * (r1 - r0) * (c1 - c0)).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = r0; r < r1; r++) {
            for (int c = c0; c < c1; c++) {
                short bits = in.bytes.getShort(2 * (r * in.cols + c));
                out.putShort(factor == 1.0 ? bits
                        : Floats.f32ToBf16(RoundingTest.reference(Floats.bf16ToF32(bits) * factor, true)));
            }
        }
        return out.flip();
    }
}
