package dev.upcycle.io;

import static dev.upcycle.io.StFiles.assertFails;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoundTripTest {
    @TempDir
    Path dir;

    private static final TensorFiller ZEROS = (spec, sink) -> sink.write(ByteBuffer.allocate((int) spec.byteSize()));

    /** Values 0, 1, -2, 0.5, ... exactly representable in every float dtype. */
    private static float[] values(long n) {
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i % 2 == 0 ? 1 : -1) * (i % 17) * 0.25f;
        }
        return v;
    }

    private static final TensorFiller VALUES = (spec, sink) -> {
        float[] v = values(spec.shape().elements());
        sink.writeFloats(v, 0, v.length);
    };

    @Test
    void everyWritableDtypeRoundTrips() throws IOException {
        List<TensorSpec> specs = List.of(
                new TensorSpec("f16", DType.F16, Shape.of(3, 5)),
                new TensorSpec("bf16", DType.BF16, Shape.of(7)),
                new TensorSpec("f32", DType.F32, Shape.of(2, 2, 3)),
                new TensorSpec("scalar", DType.F32, Shape.of()),
                new TensorSpec("empty", DType.BF16, Shape.of(0, 4)));
        Path p = dir.resolve("m.safetensors");
        SafetensorsWriter.write(p, specs, Map.of("b", "2", "a", "1"), VALUES);
        assertThat(Files.list(dir)).containsExactly(p); // no temp file left
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            for (TensorSpec s : specs) {
                TensorHeader t = f.tensor(s.name());
                assertThat(t.dtype()).isEqualTo(s.dtype());
                assertThat(t.shape()).isEqualTo(s.shape());
                assertThat(f.readFloats(s.name())).containsExactly(values(s.shape().elements()));
                // aligned to the element size, as the reference writer guarantees
                assertThat((f.dataStart() + t.begin()) % s.dtype().bytes()).isZero();
            }
            assertThat(f.tensor("scalar").elements()).isEqualTo(1);
            assertThat(f.tensor("empty").byteSize()).isZero();
            assertThat(f.metadata()).containsExactly(Map.entry("a", "1"), Map.entry("b", "2"), Map.entry("format", "pt"));
            // file order: F32 first, then BF16 (names ascending), then F16
            assertThat(f.tensors()).extracting(TensorHeader::name)
                    .containsExactly("f32", "scalar", "bf16", "empty", "f16");
            assertThat(f.dataStart() % 8).isZero();
            ByteBuffer raw = f.read("bf16");
            assertThat(raw.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
            assertThat(raw.remaining()).isEqualTo(14);
        }
    }

    @Test
    void workedExampleOfFormats15ByteForByte() throws IOException {
        Path p = dir.resolve("ex.safetensors");
        var layout = SafetensorsWriter.layoutRaw(List.of(new TensorSpec("attn0", DType.F32, Shape.of(1, 1, 2, 3))),
                null, p.toString());
        SafetensorsWriter.write(p, layout, ZEROS);
        byte[] b = Files.readAllBytes(p);
        assertThat(b).hasSize(104);
        assertThat(HexFormat.of().formatHex(b, 0, 8)).isEqualTo("4800000000000000");
        String header = new String(b, 8, 72, StandardCharsets.UTF_8);
        assertThat(header).isEqualTo("{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ");
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).isEmpty();
            assertThat(f.readFloats("attn0")).containsOnly(0f).hasSize(6);
        }
    }

    @Test
    void emptyFileBody() throws IOException {
        Path p = StFiles.write(dir.resolve("e.safetensors"), StFiles.bytes(8, "{}      ".getBytes(StandardCharsets.US_ASCII),
                new byte[0]));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensors()).isEmpty();
        }
    }

    @Test
    void identicalInputGivesIdenticalBytes() throws IOException {
        List<TensorSpec> specs = List.of(new TensorSpec("z", DType.BF16, Shape.of(4, 4)),
                new TensorSpec("a", DType.F32, Shape.of(3)), new TensorSpec("m", DType.F16, Shape.of(2)));
        Path p1 = dir.resolve("1.safetensors");
        Path p2 = dir.resolve("2.safetensors");
        SafetensorsWriter.write(p1, specs, Map.of("k", "v"), VALUES);
        SafetensorsWriter.write(p2, List.of(specs.get(2), specs.get(0), specs.get(1)), new LinkedHashMap<>(Map.of("k", "v")),
                VALUES);
        assertThat(Files.readAllBytes(p1)).isEqualTo(Files.readAllBytes(p2));
        String header = new String(Files.readAllBytes(p1), 8, 48, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},\"a\":");
    }

    @Test
    void oddNamesAreEscapedTheWayTheReaderAccepts() throws IOException {
        List<String> names = List.of("quote\"d", "back\\slash", "ünïcödé", "emoji\uD83D\uDE00", "sl/ash");
        Path p = dir.resolve("n.safetensors");
        SafetensorsWriter.write(p, names.stream().map(n -> new TensorSpec(n, DType.F32, Shape.of(1))).toList(),
                Map.of("x\"y", "a\\b"), ZEROS);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensors()).extracting(TensorHeader::name).containsExactlyInAnyOrderElementsOf(names);
            assertThat(f.metadata()).containsEntry("x\"y", "a\\b");
        }
        assertFails(() -> SafetensorsWriter.write(dir.resolve("bad.safetensors"),
                List.of(new TensorSpec("a\nb", DType.F32, Shape.of(1))), Map.of(), ZEROS), ErrorKind.InvalidTensorName,
                "bad.safetensors");
        assertFails(() -> SafetensorsWriter.write(dir.resolve("dup.safetensors"),
                List.of(new TensorSpec("a", DType.F32, Shape.of(1)), new TensorSpec("a", DType.F16, Shape.of(1))), Map.of(),
                ZEROS), ErrorKind.DuplicateTensorName, "dup.safetensors");
        assertFails(() -> SafetensorsWriter.write(dir.resolve("i8.safetensors"),
                List.of(new TensorSpec("a", DType.I8, Shape.of(1))), Map.of(), ZEROS), ErrorKind.UnsupportedDtype,
                "i8.safetensors");
    }

    @Test
    void rowsTransferAndNonFiniteScan() throws IOException {
        Path p = dir.resolve("r.safetensors");
        float[] v = values(6 * 4);
        v[5] = Float.NaN;
        v[22] = Float.NEGATIVE_INFINITY;
        SafetensorsWriter.write(p, List.of(new TensorSpec("w", DType.F32, Shape.of(6, 4)),
                new TensorSpec("h", DType.BF16, Shape.of(6, 4))), Map.of(), (spec, sink) -> sink.writeFloats(v, 0, v.length));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            ByteBuffer rows = f.readRows("w", 2, 3);
            assertThat(rows.remaining()).isEqualTo(3 * 4 * 4);
            assertThat(rows.getFloat(0)).isEqualTo(v[8]);
            float[] r = f.readRowsAsFloats("h", 1, 2);
            assertThat(r).hasSize(8);
            assertThat(Float.isNaN(r[1])).isTrue();
            assertThat(f.countNonFinite("w")).isEqualTo(2);
            assertThat(f.countNonFinite("h")).isEqualTo(2);
            assertThatThrownBy(() -> f.readRows("w", 5, 2)).isInstanceOf(IllegalArgumentException.class);
            Path out = dir.resolve("copy.bin");
            try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                assertThat(f.transferTo("w", ch)).isEqualTo(96);
            }
            assertThat(Files.readAllBytes(out)).isEqualTo(f.read("w").array());
        }
    }

    @Test
    void transferFromCopiesBetweenFiles() throws IOException {
        Path src = dir.resolve("src.safetensors");
        SafetensorsWriter.write(src, List.of(new TensorSpec("w", DType.BF16, Shape.of(3, 3))), Map.of(), VALUES);
        Path dst = dir.resolve("dst.safetensors");
        try (SafetensorsFile in = SafetensorsFile.open(src)) {
            SafetensorsWriter.write(dst, List.of(new TensorSpec("a", DType.F32, Shape.of(1)),
                    new TensorSpec("copy", DType.BF16, Shape.of(3, 3))), Map.of(), (spec, sink) -> {
                        if (spec.name().equals("copy")) {
                            sink.transferFrom(in, in.tensor("w"));
                        } else {
                            sink.writeFloats(new float[] {7f}, 0, 1);
                        }
                    });
        }
        try (SafetensorsFile f = SafetensorsFile.open(dst)) {
            assertThat(f.readFloats("copy")).containsExactly(values(9));
            assertThat(f.readFloats("a")).containsExactly(7f);
        }
    }

    @Test
    void fillerBugsAndOverflowLeaveNoFile() throws IOException {
        Path p = dir.resolve("m.safetensors");
        List<TensorSpec> specs = List.of(new TensorSpec("w", DType.F16, Shape.of(2)));
        assertThatThrownBy(() -> SafetensorsWriter.write(p, specs, Map.of(), (s, sink) -> sink.writeFloats(new float[1], 0, 1)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("w");
        assertThatThrownBy(() -> SafetensorsWriter.write(p, specs, Map.of(), (s, sink) -> sink.writeFloats(new float[3], 0, 3)))
                .isInstanceOf(IllegalStateException.class);
        var e = assertFails(() -> SafetensorsWriter.write(p, specs, Map.of(),
                (s, sink) -> sink.writeFloats(new float[] {1f, 70000f}, 0, 2)), ErrorKind.DtypeOverflow, "m.safetensors");
        assertThat(e.where()).contains("\"w\"");
        assertThat(Files.list(dir)).isEmpty();
    }

    @Test
    void unwritableTargetIsIoError() throws IOException {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        var e = assertFails(() -> SafetensorsWriter.write(notADir.resolve("m.safetensors"),
                List.of(new TensorSpec("w", DType.F32, Shape.of(1))), Map.of(), ZEROS), ErrorKind.IoError, "m.safetensors");
        assertThat(e.exitCode().code()).isEqualTo(4);
    }

    // ---- sharding

    private static TensorSpec f32(String name, long n) {
        return new TensorSpec(name, DType.F32, Shape.of(n));
    }

    @Test
    void planShardsFollowsTheHubRule() {
        // limit 100 bytes: a(40) b(40) | c(40) | big(400, alone, created when seen) | d(60) e(40) | f(0)
        List<TensorSpec> specs = List.of(f32("a", 10), f32("b", 10), f32("c", 10), f32("big", 100), f32("d", 15),
                f32("e", 10), f32("f", 0));
        List<ShardPlan> plans = CheckpointWriter.planShards(specs, 100);
        assertThat(plans).extracting(ShardPlan::fileName).containsExactly("model-00001-of-00004.safetensors",
                "model-00002-of-00004.safetensors", "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors");
        assertThat(plans.get(0).tensors()).extracting(TensorSpec::name).containsExactly("a", "b");
        assertThat(plans.get(1).tensors()).extracting(TensorSpec::name).containsExactly("big");
        assertThat(plans.get(2).tensors()).extracting(TensorSpec::name).containsExactly("c", "d");
        assertThat(plans.get(3).tensors()).extracting(TensorSpec::name).containsExactly("e", "f");
        // exactly at the limit stays in one shard
        assertThat(CheckpointWriter.planShards(List.of(f32("a", 10), f32("b", 15)), 100)).singleElement()
                .satisfies(s -> assertThat(s.fileName()).isEqualTo("model.safetensors"));
        assertThat(CheckpointWriter.planShards(List.of(f32("a", 10), f32("b", 16)), 100)).hasSize(2);
    }

    @Test
    void shardedCheckpointRoundTrips() throws IOException {
        Path out = dir.resolve("out");
        List<TensorSpec> specs = List.of(f32("model.embed.weight", 20), f32("model.layers.0.w", 10),
                new TensorSpec("model.layers.0.h", DType.BF16, Shape.of(10)), f32("lm_head.weight", 20));
        WrittenCheckpoint w = CheckpointWriter.write(out, specs, 100, Map.of(), VALUES);
        assertThat(w.files()).hasSize(3);
        assertThat(w.totalSize()).isEqualTo(80 + 40 + 20 + 80);
        String index = Files.readString(w.index().orElseThrow());
        assertThat(index).isEqualTo("""
                {
                  "metadata": {
                    "total_size": 220
                  },
                  "weight_map": {
                    "lm_head.weight": "model-00003-of-00003.safetensors",
                    "model.embed.weight": "model-00001-of-00003.safetensors",
                    "model.layers.0.h": "model-00002-of-00003.safetensors",
                    "model.layers.0.w": "model-00002-of-00003.safetensors"
                  }
                }
                """);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertThat(c.index()).isPresent();
            assertThat(c.warnings()).isEmpty();
            assertThat(c.files()).extracting(pth -> pth.getFileName().toString()).containsExactly(
                    "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors");
            assertThat(c.tensors().keySet()).containsExactly("model.embed.weight", "model.layers.0.w", "model.layers.0.h",
                    "lm_head.weight");
            for (TensorSpec s : specs) {
                TensorRef r = c.tensor(s.name());
                assertThat(r.file().readFloats(s.name())).containsExactly(values(s.shape().elements()));
                assertThat(r.file().metadata()).containsEntry("format", "pt");
            }
        }
        try (Checkpoint c = Checkpoint.open(out.resolve(CheckpointWriter.INDEX_FILE))) {
            assertThat(c.tensors()).hasSize(4);
        }
        Path single = dir.resolve("single");
        CheckpointWriter.write(single, specs, 1_000, Map.of(), VALUES);
        assertThat(Files.list(single)).extracting(pth -> pth.getFileName().toString()).containsExactly("model.safetensors");
        try (Checkpoint c = Checkpoint.open(single.resolve("model.safetensors"))) {
            assertThat(c.index()).isEmpty();
            assertThat(c.tensors()).hasSize(4);
        }
    }

    @Test
    void parseSize() {
        assertThat(CheckpointWriter.parseSize("5GB")).isEqualTo(5_000_000_000L);
        assertThat(CheckpointWriter.parseSize("500MB")).isEqualTo(500_000_000L);
        assertThat(CheckpointWriter.parseSize("2GiB")).isEqualTo(2L << 30);
        assertThat(CheckpointWriter.parseSize("1024")).isEqualTo(1024L);
        assertThat(CheckpointWriter.parseSize("10KB")).isEqualTo(10_000L);
        assertThat(CheckpointWriter.parseSize("1.5GB")).isEqualTo(1_500_000_000L);
        assertThat(CheckpointWriter.parseSize("3MiB")).isEqualTo(3L << 20);
        for (String bad : List.of("", "GB", "-1GB", "0", "5XB", "1.5", "1e9", "99999999999999999999", "5 G B")) {
            var e = assertFails(() -> CheckpointWriter.parseSize(bad), ErrorKind.InvalidOption, "--max-shard-size");
            assertThat(e.exitCode().code()).isEqualTo(2);
        }
    }

    // ---- >2 GiB offsets, cheaply: a sparse file

    @Test
    void offsetsBeyond2GiBInASparseFile() throws IOException {
        long elements = 3L << 28; // 3 GiB of F32 zeros
        var layout = SafetensorsWriter.layout(List.of(new TensorSpec("big", DType.F32, Shape.of(1L << 20, elements >> 20))),
                Map.of());
        Path p = dir.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            byte[] header = layout.header();
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length);
            raf.write(prefix.array());
            raf.write(header);
            raf.setLength(layout.fileSize());
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            TensorHeader t = f.tensor("big");
            assertThat(t.byteSize()).isEqualTo(3L << 30);
            long row = (1L << 20) - 3; // byte offset ~3 GiB
            float[] last = f.readRowsAsFloats("big", row, 2);
            assertThat(last).hasSize(2 * 768).containsOnly(0f);
            ByteBuffer b = ByteBuffer.allocate(16);
            f.readBytes(t, (1L << 31) + 12, b);
            assertThat(b.flip().remaining()).isEqualTo(16);
            try (FloatCursor c = f.floatCursor("big", (1L << 29) + 5, 10)) {
                float[] x = new float[10];
                assertThat(c.read(x, 0, 10)).isEqualTo(10);
                assertThat(c.remaining()).isZero();
            }
            assertThatThrownBy(() -> f.read("big")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("readRows").hasMessageContaining("transferTo");
            assertThatThrownBy(() -> f.readFloats("big")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> f.readBytes(t, (3L << 30) - 8, ByteBuffer.allocate(16)))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void sparseFileNonFiniteScan() throws IOException {
        // 2.5 GiB of BF16 zeros: countNonFinite walks it in 8 MiB chunks, past 2^31 bytes.
        long elements = 5L << 29 >> 1;
        var layout = SafetensorsWriter.layout(List.of(new TensorSpec("big", DType.BF16, Shape.of(elements))), Map.of());
        Path p = dir.resolve("sparse2.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            byte[] header = layout.header();
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            raf.write(header);
            raf.setLength(layout.fileSize());
            // one Inf (BF16 0x7F80) far past 2^31 bytes
            raf.seek(8 + header.length + (elements - 1) * 2);
            raf.write(new byte[] {(byte) 0x80, 0x7F});
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensor("big").byteSize()).isGreaterThan(1L << 31);
            assertThat(f.countNonFinite("big")).isEqualTo(1);
        }
    }
}
