package dev.upcycle.io;

import static dev.upcycle.io.StFiles.assertFails;
import static dev.upcycle.io.StFiles.bytes;
import static dev.upcycle.io.StFiles.file;
import static dev.upcycle.io.StFiles.write;
import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rejected inputs 1-27 and 36 (docs/formats.md, "Rejected inputs"): one named error each, naming the
 * file.
 */
class HostileInputTest {
    @TempDir
    Path dir;

    private static final String OK = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private Path st(String header, int data) {
        return file(dir.resolve("x.safetensors"), header, data);
    }

    private void fails(String header, int data, ErrorKind kind) {
        Path p = st(header, data);
        assertFails(() -> SafetensorsFile.open(p).close(), kind, "x.safetensors");
    }

    private static String entry(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    // ---- 1-3: lengths

    @Test
    void item01_shorterThan8Bytes() {
        Path p = write(dir.resolve("x.safetensors"), new byte[] {1, 0, 0, 0, 0});
        UpcycleException e = assertFails(() -> SafetensorsFile.open(p), ErrorKind.HeaderTooSmall, "x.safetensors");
        assertThat(e.exitCode()).isEqualTo(ExitCode.BAD_INPUT);
    }

    @Test
    void item02_headerOver100MB() {
        Path p = write(dir.resolve("x.safetensors"), bytes(100_000_001L, "{}".getBytes(StandardCharsets.US_ASCII), new byte[0]));
        assertFails(() -> SafetensorsFile.open(p), ErrorKind.HeaderTooLarge, "x.safetensors");
    }

    @Test
    void item02_headerLengthAbove2pow63AsUnsigned() {
        Path p = write(dir.resolve("x.safetensors"), bytes(-1L, "{}".getBytes(StandardCharsets.US_ASCII), new byte[0]));
        UpcycleException e = assertFails(() -> SafetensorsFile.open(p), ErrorKind.HeaderTooLarge, "x.safetensors");
        assertThat(e.why()).contains("18446744073709551615");
    }

    @Test
    void item03_truncatedHeader() {
        Path p = write(dir.resolve("x.safetensors"), bytes(1000, "{}".getBytes(StandardCharsets.US_ASCII), new byte[0]));
        assertFails(() -> SafetensorsFile.open(p), ErrorKind.InvalidHeaderLength, "x.safetensors");
    }

    // ---- 4-7: text and JSON

    @Test
    void item04_invalidUtf8() {
        for (byte[] bad : List.of(new byte[] {'{', '"', (byte) 0xFF, '"', ':', '1', '}'},
                new byte[] {'{', '"', (byte) 0xC0, (byte) 0xAF, '"', ':', '1', '}'},              // overlong '/'
                new byte[] {'{', '"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"', ':', '1', '}'})) { // surrogate
            Path p = file(dir.resolve("x.safetensors"), bad, 0);
            assertFails(() -> SafetensorsFile.open(p), ErrorKind.InvalidHeaderUtf8, "x.safetensors");
        }
    }

    @Test
    void item05_notJsonOrNotObjectOrTrailingGarbage() {
        fails("{\"a\":", 0, ErrorKind.InvalidHeaderJson);
        fails("[1,2]", 0, ErrorKind.InvalidHeaderJson);
        fails("{} {}", 0, ErrorKind.InvalidHeaderJson);
        fails("{}x", 0, ErrorKind.InvalidHeaderJson);
        fails("{}\0\0\0\0\0\0", 0, ErrorKind.InvalidHeaderJson);
        fails("{'a':1}", 0, ErrorKind.InvalidHeaderJson);
        fails("{\"a\":1,}", 0, ErrorKind.InvalidHeaderJson);
        fails("{/*c*/}", 0, ErrorKind.InvalidHeaderJson);
    }

    @Test
    void item05_whitespaceAroundObjectIsAccepted() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(st(" \t\r\n{" + OK + "}\n  ", 8))) {
            assertThat(f.tensors()).hasSize(1);
        }
    }

    @Test
    void item06_bomBeforeObject() {
        byte[] h = ("\uFEFF{}").getBytes(StandardCharsets.UTF_8);
        Path p = file(dir.resolve("x.safetensors"), h, 0);
        assertFails(() -> SafetensorsFile.open(p), ErrorKind.InvalidHeaderJson, "x.safetensors");
    }

    @Test
    void item07_nestingDepth65() {
        String deep = "[".repeat(64) + "]".repeat(64); // plus the outer object: depth 65
        fails("{\"a\":" + deep + "}", 0, ErrorKind.InvalidHeaderJson);
        // Depth 64 is not a JSON error (it fails later, as a bad tensor entry).
        String ok = "[".repeat(63) + "]".repeat(63);
        fails("{\"a\":" + ok + "}", 0, ErrorKind.InvalidTensorInfo);
    }

    @Test
    void item07_hundredKilobyteStringAndLongNumber() {
        fails("{\"__metadata__\":{\"k\":\"" + "x".repeat(100_000) + "\"}}", 0, ErrorKind.InvalidHeaderJson);
        fails("{\"" + "n".repeat(100_000) + "\":1}", 0, ErrorKind.InvalidHeaderJson);
        fails("{" + entry("a", "F32", "[" + "9".repeat(1000) + "]", "[0,0]") + "}", 0, ErrorKind.InvalidHeaderJson);
    }

    // ---- 8-11: entries

    @Test
    void item08_duplicateTensorName() {
        // Same range twice: the reference parser would accept this silently.
        fails("{" + OK + "," + OK + "}", 8, ErrorKind.DuplicateTensorName);
    }

    @Test
    void item08_duplicateMetadata() {
        fails("{\"__metadata__\":{},\"__metadata__\":{}," + OK + "}", 8, ErrorKind.DuplicateTensorName);
    }

    @Test
    void item09_unknownDtypes() {
        for (String dt : List.of("f32", "FLOAT32", "bfloat16", "F4", "F6_E2M3", "")) {
            fails("{" + entry("a", dt, "[2]", "[0,8]") + "}", 8, ErrorKind.UnknownDtype);
        }
    }

    @Test
    void item10_badShapes() {
        fails("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, ErrorKind.InvalidTensorInfo);
        for (String shape : List.of("2", "\"2\"", "[-2]", "[2.0]", "[2e0]", "[-0]", "[null]", "[9223372036854775808]",
                "[18446744073709551615]", "{}")) {
            fails("{" + entry("a", "F32", shape, "[0,8]") + "}", 8, ErrorKind.InvalidTensorInfo);
        }
    }

    @Test
    void item10_shapeAt2pow63Minus1IsAnIntegerButOverflows() {
        fails("{" + entry("a", "U8", "[9223372036854775807]", "[0,8]") + "}", 8, ErrorKind.TensorInvalidInfo);
    }

    @Test
    void item11_badDataOffsets() {
        fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, ErrorKind.InvalidTensorInfo);
        for (String off : List.of("[0]", "[0,8,8]", "[-1,8]", "[0,8.0]", "\"0,8\"", "[]")) {
            fails("{" + entry("a", "F32", "[2]", off) + "}", 8, ErrorKind.InvalidTensorInfo);
        }
    }

    // ---- 12-16: offsets and sizes

    @Test
    void item12_endBeforeBegin() {
        fails("{" + entry("a", "F32", "[0]", "[0,0]") + "," + entry("b", "F32", "[0]", "[0,0]") + ","
                + entry("c", "U8", "[0]", "[8,0]") + "}", 8, ErrorKind.InvalidOffset);
        fails("{" + entry("a", "U8", "[0]", "[0,0]") + "," + entry("b", "U8", "[1]", "[1,0]") + "}", 1,
                ErrorKind.InvalidOffset);
    }

    @Test
    void item13_gapsOverlapsAliases() {
        fails("{" + entry("a", "F32", "[2]", "[4,12]") + "}", 12, ErrorKind.InvalidOffset);           // not at 0
        fails("{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}", 12,
                ErrorKind.InvalidOffset);                                                            // gap
        fails("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}", 8,
                ErrorKind.InvalidOffset);                                                            // overlap
        fails("{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[2]", "[0,8]") + "}", 8,
                ErrorKind.InvalidOffset);                                                            // alias
    }

    @Test
    void item14_shapeProductOverflow() {
        fails("{" + entry("a", "F32", "[4294967296,4294967296]", "[0,0]") + "}", 0, ErrorKind.ValidationOverflow);
        fails("{" + entry("a", "F32", "[4611686018427387904]", "[0,0]") + "}", 0, ErrorKind.ValidationOverflow);
    }

    @Test
    void item15_sizeMismatch() {
        Path p = st("{" + entry("a", "F32", "[3]", "[0,8]") + "}", 8);
        UpcycleException e = assertFails(() -> SafetensorsFile.open(p), ErrorKind.TensorInvalidInfo, "x.safetensors");
        assertThat(e.where()).contains("\"a\"");
        assertThat(e.why()).contains("12");
    }

    @Test
    void item16_offsetsPastEofAndTrailingBytes() {
        fails("{" + OK + "}", 4, ErrorKind.MetadataIncompleteBuffer);
        fails("{" + OK + "}", 9, ErrorKind.MetadataIncompleteBuffer);
        fails("{}", 1, ErrorKind.MetadataIncompleteBuffer);
    }

    // ---- 17-19

    @Test
    void item17_metadataNotStrings() {
        for (String m : List.of("[]", "\"pt\"", "{\"format\":1}", "{\"a\":null}", "{\"a\":{}}", "{\"a\":true}",
                "{\"a\":\"x\",\"a\":\"y\"}")) {
            fails("{\"__metadata__\":" + m + "," + OK + "}", 8, ErrorKind.InvalidMetadata);
        }
    }

    @Test
    void item18_unknownKeyInTensorEntry() {
        fails("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"strides\":[1]}}", 8,
                ErrorKind.InvalidTensorInfo);
        fails("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                ErrorKind.InvalidTensorInfo);
        fails("{\"a\":[1]}", 0, ErrorKind.InvalidTensorInfo);
    }

    @Test
    void item19_badTensorNames() {
        for (String name : List.of("", "a\\u0000b", "a\\nb", "\\u001f", "\\ud800", "x\\udc00y")) {
            fails("{" + entry(name, "F32", "[2]", "[0,8]") + "}", 8, ErrorKind.InvalidTensorName);
        }
    }

    @Test
    void lookupOfMissingTensor() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(st("{" + OK + "}", 8))) {
            assertFails(() -> f.tensor("b"), ErrorKind.TensorNotFound, "x.safetensors");
        }
    }

    // ---- 36

    @Test
    void item36_fileChangesSizeAfterOpen() throws IOException {
        Path p = st("{" + OK + "}", 8);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Files.write(p, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
            assertFails(() -> f.read("a"), ErrorKind.IoError, "x.safetensors");
            assertFails(() -> f.transferTo("a", java.nio.channels.Channels.newChannel(
                    java.io.OutputStream.nullOutputStream())), ErrorKind.IoError, "x.safetensors");
        }
    }

    @Test
    void item36_fileTruncatedAfterOpen() throws IOException {
        Path p = st("{" + OK + "}", 8);
        try (SafetensorsFile f = SafetensorsFile.open(p);
             var ch = java.nio.channels.FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.truncate(12);
            assertFails(() -> f.readBytes(f.tensor("a"), 0, ByteBuffer.allocate(8)), ErrorKind.IoError, "x.safetensors");
        }
    }

    // ---- 20-27: directories and indexes

    private static final TensorFiller ZEROS = (spec, sink) -> sink.write(ByteBuffer.allocate((int) spec.byteSize()));

    private Path shard(Path d, String name, String... tensors) throws IOException {
        Files.createDirectories(d);
        List<TensorSpec> specs = java.util.Arrays.stream(tensors).map(t -> new TensorSpec(t, DType.F32, Shape.of(2)))
                .toList();
        Path p = d.resolve(name);
        SafetensorsWriter.write(p, specs, Map.of(), ZEROS);
        return p;
    }

    private Path index(Path d, String json) throws IOException {
        Files.createDirectories(d);
        return Files.writeString(d.resolve(CheckpointWriter.INDEX_FILE), json);
    }

    private static String wm(String... pairs) {
        StringBuilder b = new StringBuilder("{\"metadata\":{\"total_size\":16},\"weight_map\":{");
        for (int i = 0; i < pairs.length; i += 2) {
            b.append(i == 0 ? "" : ",").append('"').append(pairs[i]).append("\":\"").append(pairs[i + 1]).append('"');
        }
        return b.append("}}").toString();
    }

    @Test
    void item20_malformedIndex() throws IOException {
        Path d = dir.resolve("ck");
        for (String bad : List.of("{", "[]", "{\"metadata\":{}}", "{\"weight_map\":[]}", "{\"weight_map\":{\"a\":1}}",
                "{\"weight_map\":{\"a\":\"s\",\"a\":\"s\"}}", "{\"weight_map\":{}} x")) {
            index(d, bad);
            assertFails(() -> Checkpoint.open(d), ErrorKind.InvalidIndex, CheckpointWriter.INDEX_FILE);
        }
    }

    @Test
    void item21_unsafeShardNames() throws IOException {
        Path d = dir.resolve("ck");
        for (String bad : List.of("../x", "/abs", "a\\\\b", "c:x", "a\\u0000b", "", "..")) {
            index(d, wm("a", bad));
            assertFails(() -> Checkpoint.open(d), ErrorKind.UnsafePath, CheckpointWriter.INDEX_FILE);
        }
    }

    @Test
    void item22_symlinkedShardOutsideDirectory() throws IOException {
        Path d = dir.resolve("ck");
        Path outside = shard(dir.resolve("elsewhere"), "s.safetensors", "a");
        index(d, wm("a", "s.safetensors"));
        Files.createSymbolicLink(d.resolve("s.safetensors"), outside);
        assertFails(() -> Checkpoint.open(d), ErrorKind.UnsafePath, "s.safetensors");
    }

    @Test
    void item22_symlinkedConfigOutsideDirectory() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "model.safetensors", "a");
        Path secret = Files.writeString(dir.resolve("secret.json"), "{}");
        Files.createSymbolicLink(d.resolve("config.json"), secret);
        assertFails(() -> Checkpoint.open(d), ErrorKind.UnsafePath, "config.json");
    }

    @Test
    void item22_symlinkInsideDirectoryIsFine() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "real.bin.safetensors", "a");
        index(d, wm("a", "s.safetensors"));
        Files.createSymbolicLink(d.resolve("s.safetensors"), d.resolve("real.bin.safetensors"));
        try (Checkpoint c = Checkpoint.open(d)) {
            assertThat(c.tensors()).containsOnlyKeys("a");
            assertThat(c.warnings()).anyMatch(w -> w.contains("real.bin.safetensors"));
        }
    }

    @Test
    void item23_missingShard() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "s1.safetensors", "a");
        index(d, wm("a", "s1.safetensors", "b", "s2.safetensors"));
        assertFails(() -> Checkpoint.open(d), ErrorKind.MissingShard, "s2.safetensors");
    }

    @Test
    void item24_indexAndShardsDisagree() throws IOException {
        Path d = dir.resolve("ck1");
        shard(d, "s1.safetensors", "a");
        index(d, wm("a", "s1.safetensors", "b", "s1.safetensors"));
        assertFails(() -> Checkpoint.open(d), ErrorKind.IndexMismatch, CheckpointWriter.INDEX_FILE); // listed, absent

        Path d2 = dir.resolve("ck2");
        shard(d2, "s1.safetensors", "a", "b");
        index(d2, wm("a", "s1.safetensors"));
        assertFails(() -> Checkpoint.open(d2), ErrorKind.IndexMismatch, "s1.safetensors"); // present, unlisted

        Path d3 = dir.resolve("ck3");
        shard(d3, "s1.safetensors", "a", "b");
        shard(d3, "s2.safetensors", "c");
        index(d3, wm("a", "s1.safetensors", "b", "s2.safetensors", "c", "s2.safetensors"));
        assertFails(() -> Checkpoint.open(d3), ErrorKind.IndexMismatch, "s1.safetensors"); // mapped elsewhere
    }

    @Test
    void item25_sameTensorInTwoShards() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "s1.safetensors", "a");
        shard(d, "s2.safetensors", "a", "b");
        index(d, wm("a", "s1.safetensors", "b", "s2.safetensors"));
        assertFails(() -> Checkpoint.open(d), ErrorKind.DuplicateTensorName, "s2.safetensors");
    }

    @Test
    void item26_singleFileAndIndexDisagree() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "s1.safetensors", "a");
        shard(d, "model.safetensors", "a", "z");
        index(d, wm("a", "s1.safetensors"));
        assertFails(() -> Checkpoint.open(d), ErrorKind.AmbiguousCheckpoint, "ck");
    }

    @Test
    void item26_strayFilesAndTotalSizeAreWarnings() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "s1.safetensors", "a");
        shard(d, "old.safetensors", "q");
        index(d, wm("a", "s1.safetensors")); // total_size 16, real 8
        try (Checkpoint c = Checkpoint.open(d)) {
            assertThat(c.warnings()).anyMatch(w -> w.contains("old.safetensors"))
                    .anyMatch(w -> w.contains("total_size"));
        }
    }

    @Test
    void item26_severalSafetensorsWithoutIndex() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "a.safetensors", "a");
        shard(d, "b.safetensors", "b");
        assertFails(() -> Checkpoint.open(d), ErrorKind.AmbiguousCheckpoint, "ck");
    }

    @Test
    void item27_pickleOnlyDirectoriesAreNeverOpened() throws IOException {
        for (String name : List.of("pytorch_model.bin", "model.pt", "weights.pth", "x.ckpt", "y.pkl")) {
            Path d = Files.createDirectories(dir.resolve("pk-" + name));
            Path pk = Files.write(d.resolve(name), new byte[] {(byte) 0x80, 2, 'c', 'o', 's'});
            // Unreadable: any attempt to open it would fail with AccessDenied (not as root, where
            // the hint and the absence of any other exception are what is checked).
            pk.toFile().setReadable(false, false);
            UpcycleException e = assertFails(() -> Checkpoint.open(d), ErrorKind.UnsupportedPickleCheckpoint, d.toString());
            assertThat(e.why()).contains(name);
            assertThat(e.hint()).isEqualTo(Checkpoint.PICKLE_HINT);
            assertFails(() -> Checkpoint.open(pk), ErrorKind.UnsupportedPickleCheckpoint, name);
        }
    }

    @Test
    void noWeightsAtAll() throws IOException {
        Path d = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(d.resolve("config.json"), "{}");
        assertFails(() -> Checkpoint.open(d), ErrorKind.NoCheckpoint, "empty");
        assertFails(() -> Checkpoint.open(dir.resolve("nope")), ErrorKind.NoCheckpoint, "nope");
    }

    @Test
    void checkpointTensorNotFound() throws IOException {
        Path d = dir.resolve("ck");
        shard(d, "model.safetensors", "a");
        try (Checkpoint c = Checkpoint.open(d)) {
            assertFails(() -> c.tensor("b"), ErrorKind.TensorNotFound, "ck");
        }
    }
}
