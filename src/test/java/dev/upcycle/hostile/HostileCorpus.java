package dev.upcycle.hostile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The hostile-input corpus of issue 9: named malformed or malicious checkpoints, each written
 * into a fresh directory on demand. Container and index cases are hand-built bytes; config and
 * tensor cases start from a valid tiny llama made by {@code upcycle synth}, so everything but
 * the one planted problem is realistic.
 *
 * <p>A case is written with {@link #build}: into {@code root/ckpt} (the path given to the
 * command), with {@code root/outside} for the targets of links that escape the checkpoint.
 * Nothing else may appear under {@code root} after a command ran.
 */
public final class HostileCorpus {

    /** How {@code inspect} (which reads headers and config only) must react. */
    public enum Outcome {
        /** Exit 3, the first stderr line is {@code upcycle: <Kind> : ...}. */
        ERROR,
        /** Exit 3; inspect lists the kind as an error in its problems (the reader opened the files). */
        FINDING,
        /** Exit 0; inspect lists the kind as a warning. */
        WARNING,
        /** Exit 0: valid per the spec, the reader must accept it. */
        ACCEPTED
    }

    public static final String INSPECT = "inspect";
    public static final String CONVERT = "convert";
    public static final String VERIFY = "verify";
    /** The commands that read a dense checkpoint and must reject every bad one. */
    public static final Set<String> ALL = Set.of(INSPECT, CONVERT, VERIFY);
    /** Problems in tensor values: inspect reads headers only and cannot see them. */
    public static final Set<String> READS_DATA = Set.of(CONVERT, VERIFY);

    /** Writes one case into the given (existing, empty) checkpoint directory. */
    @FunctionalInterface
    public interface Builder {
        void write(Path dir) throws IOException;
    }

    /**
     * One hostile input.
     *
     * @param id          short stable name (also the seed file name); prefix = the row of docs/formats.md, "Rejected inputs", for item
     * @param description what is wrong with it
     * @param expected    the error kind every detecting command must name (null only for ACCEPTED)
     * @param builder     writes the case
     * @param outcome     what inspect does with it
     * @param detectedBy  the commands that must exit 3 naming {@code expected}; the others must
     *                    merely not crash
     */
    public record Case(String id, String description, ErrorKind expected, Builder builder, Outcome outcome,
                       Set<String> detectedBy) {
        public boolean rejects(String command) {
            return outcome != Outcome.ACCEPTED && outcome != Outcome.WARNING && detectedBy.contains(command);
        }

        @Override
        public String toString() {
            return id;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    static final String ST = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";

    private HostileCorpus() {
    }

    /** Writes {@code c} under {@code root}; returns the checkpoint directory to give to a command. */
    public static Path build(Case c, Path root) {
        try {
            Path ckpt = Files.createDirectories(root.resolve("ckpt"));
            Files.createDirectories(root.resolve("outside"));
            c.builder().write(ckpt);
            return ckpt;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Case byId(String id) {
        return all().stream().filter(c -> c.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no case " + id));
    }

    public static List<Case> all() {
        List<Case> c = new ArrayList<>();
        // ---- 1-19: the safetensors container -------------------------------------------------
        c.add(err("h01-empty-file", "zero-byte model.safetensors", ErrorKind.HeaderTooSmall,
                d -> raw(d, new byte[0])));
        c.add(err("h01-five-bytes", "file shorter than the 8-byte length", ErrorKind.HeaderTooSmall,
                d -> raw(d, new byte[] {1, 0, 0, 0, 0})));
        c.add(err("h02-header-100000001", "declared header length 100,000,001 (> 100 MB)", ErrorKind.HeaderTooLarge,
                d -> raw(d, st(100_000_001L, "{}".getBytes(StandardCharsets.UTF_8), 0))));
        c.add(err("h02-header-2pow64-1", "declared header length 2^64-1", ErrorKind.HeaderTooLarge,
                d -> raw(d, st(-1L, "{}".getBytes(StandardCharsets.UTF_8), 0))));
        c.add(err("h02-header-2pow63", "declared header length 2^63 (negative as a Java long)",
                ErrorKind.HeaderTooLarge, d -> raw(d, st(Long.MIN_VALUE, new byte[8], 0))));
        c.add(err("h03-truncated-header", "N = 1000 but the file has 40 bytes", ErrorKind.InvalidHeaderLength,
                d -> raw(d, st(1000, "{\"a\":1}                         ".getBytes(StandardCharsets.UTF_8), 0))));
        c.add(err("h04-invalid-utf8", "0xFF byte inside a tensor name", ErrorKind.InvalidHeaderUtf8,
                d -> raw(d, st(bytes("{\"a", 0xFF, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4))));
        c.add(err("h04-overlong-utf8", "overlong encoding C0 AF of '/'", ErrorKind.InvalidHeaderUtf8,
                d -> raw(d, st(bytes("{\"a", 0xC0, 0xAF, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4))));
        c.add(err("h04-surrogate-utf8", "UTF-8 encoded lone surrogate ED A0 80", ErrorKind.InvalidHeaderUtf8,
                d -> raw(d, st(bytes("{\"a", 0xED, 0xA0, 0x80, "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"), 4))));
        c.add(err("h05-not-json", "header is plain text", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("hello, world", 0))));
        c.add(err("h05-array", "header is a JSON array", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("[]", 0))));
        c.add(err("h05-trailing-garbage", "text after the header object", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("{} x", 0))));
        c.add(err("h05-unterminated", "header object never closed", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("{\"a\":{\"dtype\":\"F32\"", 0))));
        c.add(err("h06-bom", "UTF-8 byte order mark before '{'", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st(bytes(0xEF, 0xBB, 0xBF, "{}"), 0))));
        c.add(err("h07-nested-10000", "arrays nested 10,000 deep", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}", 0))));
        c.add(err("h07-string-50mb", "a 50 MB string in the header (written in chunks)", ErrorKind.InvalidHeaderJson,
                HostileCorpus::hugeStringHeader));
        c.add(err("h07-number-1000-digits", "a shape entry of 1,000 digits", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("{\"a\":{\"dtype\":\"F32\",\"shape\":[" + "9".repeat(1000)
                        + "],\"data_offsets\":[0,4]}}", 4))));
        c.add(err("h07-name-100kb", "a 100 KB tensor name", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("{\"" + "n".repeat(100_000) + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4))));
        c.add(err("h08-duplicate-tensor", "the same tensor name twice in one header", ErrorKind.DuplicateTensorName,
                d -> raw(d, st("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"a\":" + entry("F32", "[1]", 0, 4) + "}", 4))));
        c.add(err("h08-duplicate-metadata", "__metadata__ twice", ErrorKind.DuplicateTensorName,
                d -> raw(d, st("{\"__metadata__\":{\"format\":\"pt\"},\"__metadata__\":{\"format\":\"pt\"}}", 0))));
        c.add(err("h09-dtype-lowercase", "dtype \"f32\"", ErrorKind.UnknownDtype,
                d -> raw(d, st("{\"a\":" + entry("f32", "[1]", 0, 4) + "}", 4))));
        c.add(err("h09-dtype-subbyte", "sub-byte dtype F4", ErrorKind.UnknownDtype,
                d -> raw(d, st("{\"a\":" + entry("F4", "[2]", 0, 1) + "}", 1))));
        c.add(err("h09-dtype-bfloat16", "dtype spelled \"bfloat16\"", ErrorKind.UnknownDtype,
                d -> raw(d, st("{\"a\":" + entry("bfloat16", "[1]", 0, 2) + "}", 2))));
        c.add(err("h10-shape-negative", "shape [-1]", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":" + entry("F32", "[-1]", 0, 4) + "}", 4))));
        c.add(err("h10-shape-fraction", "shape [1.5]", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":" + entry("F32", "[1.5]", 0, 4) + "}", 4))));
        c.add(err("h10-shape-missing", "tensor entry without shape", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4))));
        c.add(err("h10-shape-2pow63", "shape [2^63] (does not fit a signed long)", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":" + entry("U8", "[9223372036854775808]", 0, 4) + "}", 4))));
        c.add(err("h11-offsets-three", "data_offsets with three numbers", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4))));
        c.add(err("h11-offsets-over-2pow63", "data_offsets [0, 2^63]", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":" + entry("U8", "[4]", 0, "9223372036854775808") + "}", 4))));
        c.add(err("h11-offsets-negative", "data_offsets [-4, 0]", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":" + entry("U8", "[4]", "-4", "0") + "}", 4))));
        c.add(err("h12-end-before-begin", "data_offsets [4, 0]", ErrorKind.InvalidOffset,
                d -> raw(d, st("{\"a\":" + entry("U8", "[0]", 0, 0) + ",\"b\":" + entry("U8", "[4]", 4, 0) + "}", 4))));
        c.add(err("h13-gap", "second tensor starts 4 bytes after the first ends", ErrorKind.InvalidOffset,
                d -> raw(d, st("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"b\":" + entry("F32", "[1]", 8, 12) + "}", 12))));
        c.add(err("h13-alias", "two tensors share one byte range", ErrorKind.InvalidOffset,
                d -> raw(d, st("{\"a\":" + entry("F32", "[1]", 0, 4) + ",\"b\":" + entry("F32", "[1]", 0, 4) + "}", 4))));
        c.add(err("h13-not-at-zero", "the first tensor starts at 4", ErrorKind.InvalidOffset,
                d -> raw(d, st("{\"a\":" + entry("F32", "[1]", 4, 8) + "}", 8))));
        c.add(err("h14-shape-2pow32-cubed", "shape [2^32, 2^32, 2^32]: the element count overflows 64 bits",
                ErrorKind.ValidationOverflow,
                d -> raw(d, st("{\"a\":" + entry("F32", "[4294967296,4294967296,4294967296]", 0, 4) + "}", 4))));
        c.add(err("h14-bytes-overflow", "2^62 F32 elements: the byte count overflows", ErrorKind.ValidationOverflow,
                d -> raw(d, st("{\"a\":" + entry("F32", "[4611686018427387904]", 0, 4) + "}", 4))));
        c.add(err("h15-size-mismatch", "F32 [2] given 4 bytes", ErrorKind.TensorInvalidInfo,
                d -> raw(d, st("{\"a\":" + entry("F32", "[2]", 0, 4) + "}", 4))));
        c.add(err("h16-trailing-bytes", "bytes after the last tensor", ErrorKind.MetadataIncompleteBuffer,
                d -> raw(d, st("{\"a\":" + entry("F32", "[1]", 0, 4) + "}", 12))));
        c.add(err("h16-past-eof", "offsets beyond the end of the file", ErrorKind.MetadataIncompleteBuffer,
                d -> raw(d, st("{\"a\":" + entry("F32", "[4]", 0, 16) + "}", 4))));
        c.add(err("h16-offset-2pow63-1", "U8 [2^63-1] at [0, 2^63-1] in a 4-byte data buffer",
                ErrorKind.MetadataIncompleteBuffer,
                d -> raw(d, st("{\"a\":" + entry("U8", "[9223372036854775807]", 0, "9223372036854775807") + "}", 4))));
        c.add(err("h16-offsets-sum-near-2pow63", "two tensors whose offsets add up to almost 2^63",
                ErrorKind.MetadataIncompleteBuffer,
                d -> raw(d, st("{\"a\":" + entry("U8", "[4611686018427387904]", 0, "4611686018427387904")
                        + ",\"b\":" + entry("U8", "[4611686018427387903]", "4611686018427387904", "9223372036854775807")
                        + "}", 4))));
        c.add(err("h17-metadata-number", "__metadata__ value is a number", ErrorKind.InvalidMetadata,
                d -> raw(d, st("{\"__metadata__\":{\"format\":1}}", 0))));
        c.add(err("h17-metadata-array", "__metadata__ is an array", ErrorKind.InvalidMetadata,
                d -> raw(d, st("{\"__metadata__\":[\"pt\"]}", 0))));
        c.add(err("h18-extra-key", "unknown key \"strides\" in a tensor entry", ErrorKind.InvalidTensorInfo,
                d -> raw(d, st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"strides\":[1]}}", 4))));
        c.add(err("h19-empty-name", "empty tensor name", ErrorKind.InvalidTensorName,
                d -> raw(d, st("{\"\":" + entry("F32", "[1]", 0, 4) + "}", 4))));
        c.add(err("h19-nul-in-name", "tensor name with an escaped NUL", ErrorKind.InvalidTensorName,
                d -> raw(d, st("{\"a\\u0000b\":" + entry("F32", "[1]", 0, 4) + "}", 4))));
        c.add(err("h19-newline-in-name", "tensor name with a newline (would forge a second error line)",
                ErrorKind.InvalidTensorName,
                d -> raw(d, st("{\"a\\nupcycle: OK\":" + entry("F32", "[1]", 0, 4) + "}", 4))));

        // ---- 20-27: shards, index and directory ----------------------------------------------------
        c.add(err("i20-index-not-json", "model.safetensors.index.json is not JSON", ErrorKind.InvalidIndex,
                d -> sharded(d, s -> s.indexText = "{\"weight_map\": ")));
        c.add(err("i20-index-no-weight-map", "index without weight_map", ErrorKind.InvalidIndex,
                d -> sharded(d, s -> s.indexText = "{\"metadata\": {\"total_size\": 1}}")));
        c.add(err("i20-index-nested-10000", "index nested 10,000 deep", ErrorKind.InvalidIndex,
                d -> sharded(d, s -> s.indexText = "{\"weight_map\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}")));
        c.add(err("i20-index-duplicate-key", "a tensor listed twice in weight_map", ErrorKind.InvalidIndex,
                d -> sharded(d, s -> s.indexText = s.indexText.replaceFirst("\"weight_map\"\\s*:\\s*\\{",
                        "\"weight_map\": {\"lm_head.weight\": \"model-00001-of-00006.safetensors\","))));
        c.add(err("i21-index-dotdot", "weight_map names ../model.safetensors", ErrorKind.UnsafePath,
                d -> sharded(d, s -> s.remap("lm_head.weight", "../model.safetensors"))));
        c.add(err("i21-index-absolute", "weight_map names /etc/passwd", ErrorKind.UnsafePath,
                d -> sharded(d, s -> s.remap("lm_head.weight", "/etc/passwd"))));
        c.add(err("i21-index-backslash", "weight_map names ..\\x.safetensors", ErrorKind.UnsafePath,
                d -> sharded(d, s -> s.remap("lm_head.weight", "..\\x.safetensors"))));
        c.add(err("i21-index-nul", "weight_map names a shard with a NUL", ErrorKind.UnsafePath,
                d -> sharded(d, s -> s.remap("lm_head.weight", "model\u0000.safetensors"))));
        c.add(err("i22-symlinked-shard", "a shard is a symlink to a file outside the checkpoint", ErrorKind.UnsafePath,
                d -> sharded(d, s -> s.linkOut.add(s.shardOf("lm_head.weight")))));
        c.add(err("i22-symlinked-config", "config.json is a symlink to a file outside the checkpoint",
                ErrorKind.UnsafePath, d -> sharded(d, s -> s.linkOut.add("config.json"))));
        c.add(err("i22-symlinked-single-file", "model.safetensors is a symlink to a file outside",
                ErrorKind.UnsafePath, d -> {
                    Base.copySingle(d);
                    linkOutside(d, ST);
                }));
        c.add(err("i23-missing-shard", "the index names a shard that does not exist", ErrorKind.MissingShard,
                d -> sharded(d, s -> s.delete.add(s.shardOf("lm_head.weight")))));
        c.add(err("i24-listed-but-absent", "weight_map lists a tensor no shard holds", ErrorKind.IndexMismatch,
                d -> sharded(d, s -> s.remap("model.layers.9.mlp.up_proj.weight", s.shardOf("lm_head.weight")))));
        c.add(err("i24-mapped-elsewhere", "weight_map points a tensor at the wrong shard", ErrorKind.IndexMismatch,
                d -> sharded(d, s -> s.remap("lm_head.weight", s.shardOf("model.embed_tokens.weight")))));
        c.add(err("i25-duplicate-across-shards", "the same tensor in two shards", ErrorKind.DuplicateTensorName,
                HostileCorpus::duplicateAcrossShards));
        c.add(err("i26-single-and-index-differ", "model.safetensors and an index with different tensors",
                ErrorKind.AmbiguousCheckpoint, d -> {
                    sharded(d, s -> { });
                    Tensors t = Tensors.read(Base.single().resolve(ST));
                    t.remove("lm_head.weight");
                    t.write(d.resolve(ST));
                }));
        c.add(err("i26-several-files-no-index", "two .safetensors files and no index", ErrorKind.AmbiguousCheckpoint,
                d -> {
                    Base.copySingle(d);
                    Files.move(d.resolve(ST), d.resolve("a.safetensors"));
                    Files.copy(d.resolve("a.safetensors"), d.resolve("b.safetensors"));
                }));
        c.add(new Case("i26-stray-extra-shard", "a .safetensors file not named by the index (spec: a warning)",
                ErrorKind.AmbiguousCheckpoint, d -> sharded(d, s -> s.extra.add("model-00007-of-00006.safetensors")),
                Outcome.WARNING, ALL));
        c.add(err("p27-pytorch-model-bin", "only pytorch_model.bin (pickle)", ErrorKind.UnsupportedPickleCheckpoint,
                d -> pickle(d, "pytorch_model.bin")));
        c.add(err("p27-model-pt", "only model.pt (pickle)", ErrorKind.UnsupportedPickleCheckpoint,
                d -> pickle(d, "model.pt")));
        c.add(err("p27-model-ckpt", "only model.ckpt (pickle)", ErrorKind.UnsupportedPickleCheckpoint,
                d -> pickle(d, "model.ckpt")));
        c.add(err("p27-sharded-bin", "only pytorch_model-00001-of-00002.bin and its index",
                ErrorKind.UnsupportedPickleCheckpoint, d -> {
                    pickle(d, "pytorch_model-00001-of-00002.bin");
                    Files.writeString(d.resolve("pytorch_model.bin.index.json"),
                            "{\"weight_map\":{\"a\":\"pytorch_model-00001-of-00002.bin\"}}");
                }));

        // ---- 28-29, 32: config.json ------------------------------------------------------------------
        c.add(finding("c28-config-missing", "weights without config.json: nothing can load them, inspect lists it",
                ErrorKind.InvalidConfig, d -> {
                    Base.copySingle(d);
                    Files.delete(d.resolve("config.json"));
                }));
        c.add(err("c28-config-not-json", "config.json is not JSON", ErrorKind.InvalidConfig,
                d -> config(d, "model_type: llama\n")));
        c.add(err("c28-config-array", "config.json is a JSON array", ErrorKind.InvalidConfig,
                d -> config(d, "[{\"model_type\": \"llama\"}]")));
        c.add(err("c28-config-20mb", "a 20 MB config.json", ErrorKind.InvalidConfig, HostileCorpus::hugeConfig));
        c.add(err("c28-config-nested-10000", "config.json nested 10,000 deep", ErrorKind.InvalidConfig,
                d -> config(d, "{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}")));
        c.add(err("c28-config-duplicate-key", "hidden_size given twice", ErrorKind.InvalidConfig,
                d -> config(d, Base.configText().replaceFirst("\"hidden_size\"", "\"hidden_size\": 32, \"hidden_size\""))));
        c.add(err("c28-missing-hidden-size", "required hidden_size missing", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.remove("hidden_size"))));
        c.add(err("c28-hidden-size-string", "hidden_size is \"16\"", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("hidden_size", "16"))));
        c.add(err("c29-model-type-gpt2", "model_type gpt2 (unsupported family)", ErrorKind.UnsupportedArchitecture,
                d -> editConfig(d, o -> {
                    o.put("model_type", "gpt2");
                    o.putArray("architectures").add("GPT2LMHeadModel");
                })));
        c.add(err("c29-architecture-mismatch", "model_type llama but architectures [BertModel]",
                ErrorKind.UnsupportedArchitecture, d -> editConfig(d, o -> o.putArray("architectures").add("BertModel"))));
        c.add(err("c32-negative-hidden", "hidden_size = -16", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("hidden_size", -16))));
        c.add(err("c32-zero-layers", "num_hidden_layers = 0", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("num_hidden_layers", 0))));
        c.add(err("c32-heads-not-dividing-hidden", "hidden_size 16, 3 heads, no head_dim", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> {
                    o.remove("head_dim");
                    o.put("num_attention_heads", 3);
                    o.put("num_key_value_heads", 3);
                })));
        c.add(err("c32-kv-not-dividing-heads", "4 heads, 3 key/value heads", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("num_key_value_heads", 3))));
        c.add(err("c32-vocab-2pow40", "vocab_size = 2^40 (does not fit an int)", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("vocab_size", 1L << 40))));
        c.add(err("c32-layers-billion", "num_hidden_layers = 1,000,000,000", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("num_hidden_layers", 1_000_000_000))));
        c.add(err("c32-eps-nan-string", "rms_norm_eps = \"NaN\"", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> o.put("rms_norm_eps", "NaN"))));
        c.add(err("c32-mixtral-2pow31-experts", "a mixtral config with num_local_experts = 2^31",
                ErrorKind.InvalidConfig, d -> editConfig(d, o -> mixtral(o).put("num_local_experts", 1L << 31))));
        c.add(err("c32-mixtral-billion-experts", "a mixtral config with num_local_experts = 10^9",
                ErrorKind.InvalidConfig, d -> editConfig(d, o -> mixtral(o).put("num_local_experts", 1_000_000_000))));
        c.add(err("c32-mixtral-topk-over-experts", "a mixtral config with top-k 9 of 8 experts",
                ErrorKind.InvalidConfig, d -> editConfig(d, o -> mixtral(o).put("num_experts_per_tok", 9))));

        // ---- issue 14: values a config may not hold, JSON errors in users' terms ----------------------
        c.add(err("c32-rope-factor-zero", "linear rope_scaling with factor 0 (frequencies become infinite)",
                ErrorKind.InvalidConfig, d -> editConfig(d, o -> rope(o, "{\"rope_type\":\"linear\",\"factor\":0}"))));
        c.add(err("c32-rope-factor-negative", "linear rope_scaling with factor -2", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> rope(o, "{\"type\":\"linear\",\"factor\":-2.0}"))));
        c.add(err("c32-rope-factor-nan-string", "rope_scaling factor \"NaN\"", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> rope(o, "{\"rope_type\":\"dynamic\",\"factor\":\"NaN\"}"))));
        c.add(err("c32-rope-linear-without-factor", "linear rope_scaling without its factor", ErrorKind.InvalidConfig,
                d -> editConfig(d, o -> rope(o, "{\"rope_type\":\"linear\"}"))));
        c.add(err("c32-rope-llama3-bands-inverted", "llama3 rope_scaling with high_freq_factor below low_freq_factor",
                ErrorKind.InvalidConfig, d -> editConfig(d, o -> rope(o, "{\"rope_type\":\"llama3\",\"factor\":8.0,"
                        + "\"low_freq_factor\":4.0,\"high_freq_factor\":1.0,\"original_max_position_embeddings\":8192}"))));
        c.add(err("c32-rope-llama3-no-context", "llama3 rope_scaling without original_max_position_embeddings",
                ErrorKind.InvalidConfig, d -> editConfig(d, o -> rope(o, "{\"rope_type\":\"llama3\",\"factor\":8.0,"
                        + "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0}"))));
        c.add(new Case("c28-torch-dtype-disagrees", "torch_dtype and dtype say bfloat16, the weights are F32 (a warning)",
                ErrorKind.ConfigConflict, d -> editConfig(d, o -> {
                    o.put("torch_dtype", "bfloat16");
                    o.put("dtype", "bfloat16");
                }), Outcome.WARNING, ALL));
        c.add(err("c28-config-nan-literal", "config.json with a bare NaN (Python's json.dumps writes it)",
                ErrorKind.InvalidConfig, d -> config(d, Base.configText().replaceFirst("\"rms_norm_eps\": [^,]*,",
                        "\"rms_norm_eps\": NaN,"))));
        c.add(err("c28-config-trailing-comma", "config.json with a comma before its closing brace",
                ErrorKind.InvalidConfig, d -> config(d, Base.configText().trim().replaceFirst("\\s*}$", ",\n}"))));
        c.add(err("h05-nan-literal", "a header whose shape holds a bare NaN", ErrorKind.InvalidHeaderJson,
                d -> raw(d, st("{\"a\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}", 4))));
        c.add(err("i20-index-single-quotes", "model.safetensors.index.json written with single quotes",
                ErrorKind.InvalidIndex, d -> sharded(d, s -> s.indexText = s.indexText.replace('"', '\''))));

        // ---- 30-31, 33-34, 37: tensors against config ---------------------------------------------
        c.add(finding("t30-q-proj-shape", "q_proj has shape [16, 17] instead of [16, 16]", ErrorKind.ShapeMismatch,
                d -> tensors(d, t -> t.reshape("model.layers.0.self_attn.q_proj.weight", 16, 17))));
        c.add(finding("t30-vocab-rows", "embed_tokens has 65 rows, vocab_size is 64", ErrorKind.ShapeMismatch,
                d -> tensors(d, t -> t.reshape("model.embed_tokens.weight", 65, 16))));
        c.add(finding("t31-missing-layer-tensor", "layer 1 has no down_proj", ErrorKind.MissingTensor,
                d -> tensors(d, t -> t.remove("model.layers.1.mlp.down_proj.weight"))));
        c.add(finding("t31-missing-lm-head", "tie_word_embeddings false and no lm_head.weight", ErrorKind.MissingTensor,
                d -> tensors(d, t -> t.remove("lm_head.weight"))));
        c.add(finding("t31-layer-beyond-config", "tensors of a layer 2 in a 2-layer model", ErrorKind.UnexpectedTensor,
                d -> tensors(d, t -> t.copy("model.layers.1.mlp.up_proj.weight", "model.layers.2.mlp.up_proj.weight"))));
        c.add(finding("t31-zero-size-extra", "an unexpected zero-element tensor [0, 16] (valid container)",
                ErrorKind.UnexpectedTensor, d -> tensors(d, t -> t.put("model.extra.weight", "F32", new long[] {0, 16}))));
        c.add(finding("t31-scalar-extra", "an unexpected scalar tensor (shape [])",
                ErrorKind.UnexpectedTensor, d -> tensors(d, t -> t.put("model.scale", "F32", new long[0]))));
        c.add(finding("t30-scalar-norm", "a norm weight that is a scalar", ErrorKind.ShapeMismatch,
                d -> tensors(d, t -> t.reshape("model.norm.weight"))));
        c.add(finding("t33-unexpected-bias", "q_proj.bias present but attention_bias is false", ErrorKind.ConfigConflict,
                d -> tensors(d, t -> t.put("model.layers.0.self_attn.q_proj.bias", "F32", new long[] {16}))));
        c.add(finding("t37-tied-head-differs", "tie_word_embeddings true, lm_head.weight present and different",
                ErrorKind.ConfigConflict, d -> {
                    Base.copySingle(d);
                    editConfig(d, o -> o.put("tie_word_embeddings", true));
                }));
        c.add(new Case("t34-nan-weights", "a NaN in q_proj (inspect reads headers only)", ErrorKind.NonFiniteWeights,
                d -> tensors(d, t -> t.poke("model.layers.0.self_attn.q_proj.weight", 5, Float.NaN)),
                Outcome.ACCEPTED, READS_DATA));
        c.add(new Case("t34-inf-weights", "+Inf in lm_head (inspect reads headers only)", ErrorKind.NonFiniteWeights,
                d -> tensors(d, t -> t.poke("lm_head.weight", 0, Float.POSITIVE_INFINITY)),
                Outcome.ACCEPTED, READS_DATA));

        // ---- valid inputs the reader must accept -----------------------------------------------------
        c.add(new Case("ok-zero-size-and-scalar", "a lone file with a zero-element, a scalar and a normal tensor",
                null, d -> raw(d, st("{\"__metadata__\":{\"format\":\"pt\"},\"e\":" + entry("F32", "[0,3]", 0, 0)
                        + ",\"s\":" + entry("F32", "[]", 0, 4) + ",\"v\":" + entry("F16", "[2]", 4, 8) + "}", 8), false),
                Outcome.ACCEPTED, Set.of()));
        c.add(new Case("ok-empty-header", "header {} padded with spaces and no data", null,
                d -> raw(d, st("{}      ", 0), false), Outcome.ACCEPTED, Set.of()));
        c.add(new Case("ok-synth-sharded", "the untouched sharded base model", null,
                d -> sharded(d, s -> { }), Outcome.ACCEPTED, Set.of()));
        return List.copyOf(c);
    }

    private static Case err(String id, String description, ErrorKind kind, Builder b) {
        return new Case(id, description, kind, b, Outcome.ERROR, ALL);
    }

    private static Case finding(String id, String description, ErrorKind kind, Builder b) {
        return new Case(id, description, kind, b, Outcome.FINDING, ALL);
    }

    // ---- raw safetensors bytes ----------------------------------------------------------------------

    /** {@code 8-byte LE n} + header + {@code data} zero bytes; n may lie. */
    public static byte[] st(long n, byte[] header, int data) {
        return ByteBuffer.allocate(8 + header.length + data).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(n).put(header).array();
    }

    public static byte[] st(byte[] header, int data) {
        return st(header.length, header, data);
    }

    public static byte[] st(String header, int data) {
        return st(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static String entry(String dtype, String shape, Object begin, Object end) {
        return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    /** Strings as UTF-8, integers as single bytes. */
    static byte[] bytes(Object... parts) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        for (Object p : parts) {
            if (p instanceof String s) {
                b.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            } else {
                b.write((Integer) p);
            }
        }
        return b.toByteArray();
    }

    /** The base config plus {@code model.safetensors} with the given bytes. */
    private static void raw(Path dir, byte[] file) throws IOException {
        raw(dir, file, true);
    }

    private static void raw(Path dir, byte[] file, boolean withConfig) throws IOException {
        if (withConfig) {
            Files.writeString(dir.resolve("config.json"), Base.configText());
        }
        Files.write(dir.resolve(ST), file);
    }

    private static void hugeStringHeader(Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), Base.configText());
        int len = 50 << 20;
        byte[] head = "{\"__metadata__\":{\"x\":\"".getBytes(StandardCharsets.UTF_8);
        byte[] tail = "\"}}".getBytes(StandardCharsets.UTF_8);
        long n = head.length + (long) len + tail.length;
        try (FileChannel ch = FileChannel.open(dir.resolve(ST), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeAll(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).flip());
            writeAll(ch, ByteBuffer.wrap(head));
            byte[] chunk = new byte[1 << 20];
            java.util.Arrays.fill(chunk, (byte) 'x');
            for (int i = 0; i < len / chunk.length; i++) {
                writeAll(ch, ByteBuffer.wrap(chunk));
            }
            writeAll(ch, ByteBuffer.wrap(tail));
        }
    }

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void pickle(Path dir, String name) throws IOException {
        Files.writeString(dir.resolve("config.json"), Base.configText());
        // Protocol-2 pickle that would call os.system("echo pwned") if anything unpickled it.
        Files.write(dir.resolve(name), bytes(0x80, 0x02, "cos\nsystem\nq", 0, "X", 0x0b, 0, 0, 0, "echo pwnedq", 1, 0x85, "q", 2, "Rq", 3, "."));
    }

    private static void linkOutside(Path dir, String name) throws IOException {
        Path target = dir.resolveSibling("outside").resolve(name);
        Files.move(dir.resolve(name), target);
        Files.createSymbolicLink(dir.resolve(name), target);
    }

    // ---- config edits on the base single-file model ----------------------------------------------

    private static void config(Path dir, String text) throws IOException {
        Base.copySingle(dir);
        Files.writeString(dir.resolve("config.json"), text);
    }

    private static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
        if (!Files.exists(dir.resolve(ST))) {
            Base.copySingle(dir);
        }
        ObjectNode o = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        edit.accept(o);
        Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o));
    }

    /** Legacy rope_scaling only (the base config also spells plain RoPE as rope_parameters). */
    private static void rope(ObjectNode o, String scaling) {
        o.remove("rope_parameters");
        try {
            o.set("rope_scaling", JSON.readTree(scaling));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ObjectNode mixtral(ObjectNode o) {
        o.put("model_type", "mixtral");
        ArrayNode a = o.putArray("architectures");
        a.add("MixtralForCausalLM");
        o.remove("attention_bias");
        o.remove("mlp_bias");
        o.remove("pretraining_tp");
        o.put("num_local_experts", 8);
        o.put("num_experts_per_tok", 2);
        return o;
    }

    private static void hugeConfig(Path dir) throws IOException {
        Base.copySingle(dir);
        StringBuilder b = new StringBuilder(Base.configText().trim());
        b.setLength(b.length() - 1);
        b.append(",\"padding\":[");
        int target = 20_000_000;
        while (b.length() < target) {
            b.append("0,");
        }
        b.append("0]}");
        Files.writeString(dir.resolve("config.json"), b);
    }

    // ---- tensor edits on the base single-file model -------------------------------------------------

    private static void tensors(Path dir, Consumer<Tensors> edit) throws IOException {
        Base.copySingle(dir);
        Tensors t = Tensors.read(dir.resolve(ST));
        edit.accept(t);
        t.write(dir.resolve(ST));
    }

    /** Tensors of a file, editable, written back with a valid header. */
    static final class Tensors {
        record T(String dtype, long[] shape, byte[] data) {
        }

        final Map<String, T> map = new LinkedHashMap<>();

        static Tensors read(Path file) {
            Tensors t = new Tensors();
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                for (TensorHeader h : f.tensors()) {
                    ByteBuffer b = f.read(h.name());
                    byte[] data = new byte[b.remaining()];
                    b.get(data);
                    t.map.put(h.name(), new T(h.dtype().name(), h.shape().dims(), data));
                }
            }
            return t;
        }

        void remove(String name) {
            if (map.remove(name) == null) {
                throw new IllegalArgumentException(name);
            }
        }

        void copy(String from, String to) {
            map.put(to, map.get(from));
        }

        /** Zero-filled tensor of the given shape. */
        void put(String name, String dtype, long[] shape) {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            map.put(name, new T(dtype, shape, new byte[(int) n * 4]));
        }

        void reshape(String name, long... shape) {
            T old = map.get(name);
            put(name, old.dtype(), shape);
        }

        void poke(String name, int index, float value) {
            T t = map.get(name);
            ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN).putFloat(index * 4, value);
        }

        void write(Path file) throws IOException {
            StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
            long off = 0;
            for (Map.Entry<String, T> e : map.entrySet()) {
                T t = e.getValue();
                StringBuilder shape = new StringBuilder("[");
                for (int i = 0; i < t.shape().length; i++) {
                    shape.append(i > 0 ? "," : "").append(t.shape()[i]);
                }
                h.append(',').append(JSON.writeValueAsString(e.getKey())).append(':')
                        .append(entry(t.dtype(), shape.append(']').toString(), off, off + t.data().length));
                off += t.data().length;
            }
            h.append('}');
            while (h.length() % 8 != 0) {
                h.append(' ');
            }
            byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocate((int) (8 + header.length + off)).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(header.length).put(header);
            map.values().forEach(t -> b.put(t.data()));
            Files.write(file, b.array());
        }
    }

    // ---- sharded cases -------------------------------------------------------------------------------

    /** Edits applied to a copy of the sharded base model. */
    static final class ShardEdit {
        String indexText;
        final ObjectNode index;
        final List<String> linkOut = new ArrayList<>();
        final List<String> delete = new ArrayList<>();
        final List<String> extra = new ArrayList<>();

        ShardEdit(String indexText) throws IOException {
            this.indexText = indexText;
            this.index = (ObjectNode) JSON.readTree(indexText);
        }

        String shardOf(String tensor) {
            return index.get("weight_map").get(tensor).textValue();
        }

        void remap(String tensor, String shard) {
            ((ObjectNode) index.get("weight_map")).put(tensor, shard);
            try {
                indexText = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @FunctionalInterface
    interface ShardEditor {
        void edit(ShardEdit s) throws IOException;
    }

    private static void sharded(Path dir, ShardEditor editor) throws IOException {
        Base.copy(Base.sharded(), dir);
        ShardEdit s = new ShardEdit(Files.readString(dir.resolve(INDEX)));
        editor.edit(s);
        Files.writeString(dir.resolve(INDEX), s.indexText);
        for (String name : s.delete) {
            Files.delete(dir.resolve(name));
        }
        for (String name : s.linkOut) {
            linkOutside(dir, name);
        }
        for (String name : s.extra) {
            Tensors t = new Tensors();
            t.put("model.stray.weight", "F32", new long[] {4});
            t.write(dir.resolve(name));
        }
    }

    private static void duplicateAcrossShards(Path dir) throws IOException {
        sharded(dir, s -> { });
        ShardEdit s = new ShardEdit(Files.readString(dir.resolve(INDEX)));
        String home = s.shardOf("lm_head.weight");
        String other = s.shardOf("model.embed_tokens.weight");
        Tensors from = Tensors.read(dir.resolve(home));
        Tensors into = Tensors.read(dir.resolve(other));
        into.map.put("lm_head.weight", from.map.get("lm_head.weight"));
        into.write(dir.resolve(other));
    }

    // ---- the valid base models -----------------------------------------------------------------------

    /** Tiny llama checkpoints made once per JVM with {@code upcycle synth}. */
    static final class Base {
        private static Path root;

        private Base() {
        }

        static synchronized Path single() {
            return make("single", "5GB");
        }

        static synchronized Path sharded() {
            return make("sharded", "6KB");
        }

        static String configText() {
            try {
                return Files.readString(single().resolve("config.json"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static Path make(String name, String shardSize) {
            try {
                if (root == null) {
                    root = Files.createTempDirectory("upcycle-hostile-base");
                    Path r = root;
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(r)));
                }
                Path dir = root.resolve(name);
                if (!Files.exists(dir)) {
                    Cli run = Cli.run("synth", "--family", "llama",
                            "-o", dir.toString(), "--layers", "2", "--hidden", "16", "--heads", "4",
                            "--kv-heads", "2", "--intermediate", "32", "--vocab", "64", "--seed", "7",
                            "--max-shard-size", shardSize, "--quiet");
                    if (run.code() != 0) {
                        throw new IllegalStateException("synth failed (" + run.code() + "): " + run.err());
                    }
                }
                return dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        static void copySingle(Path dir) throws IOException {
            copy(single(), dir);
        }

        /** The checkpoint files (not upcycle.json: its digests would flag every edit first). */
        static void copy(Path from, Path to) throws IOException {
            try (Stream<Path> s = Files.list(from)) {
                for (Path p : s.toList()) {
                    String n = p.getFileName().toString();
                    if (!n.equals("upcycle.json")) {
                        Files.copy(p, to.resolve(n), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
    }

    public static void deleteTree(Path root) {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // best effort
        }
    }
}
