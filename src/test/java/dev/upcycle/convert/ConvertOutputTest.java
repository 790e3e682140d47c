package dev.upcycle.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.SafetensorsFile;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelDescription;
import dev.upcycle.model.TensorRole;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.testing.TinyModels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Invariants 25, 26 and 6 (docs/design.md, "Invariants of the method") on written outputs; determinism;
 * complete-or-absent; side files.
 */
class ConvertOutputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static UpcycleSpec e4g2t2() {
        return UpcycleSpec.builder().experts(8).topK(2).granularity(2).routing(RoutingMode.TOPK_SOFTMAX)
                .scaling(ScalingMode.EXACT_DOWN).build();
    }

    /** Invariant 25: non-MLP tensors byte-identical; no dense mlp.*_proj left in an upcycled layer. */
    @ParameterizedTest
    @ValueSource(strings = {"llama:mixtral", "mistral:qwen2-moe", "qwen2:qwen2-moe", "qwen3:qwen3-moe"})
    void nonMlpTensorsAreByteIdenticalAndNoDenseMlpRemains(String pair) {
        String[] p = pair.split(":");
        Path dense = TinyModels.dense(tmp.resolve("dense"), p[0]);
        Converter.Result r = ConvertFixtures.converter().convert(dense, tmp.resolve("moe"),
                ConvertFixtures.request(e4g2t2(), p[1], "all"), ConvertFixtures.settings());
        try (Checkpoint in = Checkpoint.open(dense); Checkpoint out = Checkpoint.open(r.output())) {
            var family = r.plan().source().family();
            int copied = 0;
            for (TensorRef ref : in.tensors().values()) {
                TensorRole role = family.roleOf(ref.name()).orElseThrow().role();
                boolean mlp = role == TensorRole.MLP_GATE || role == TensorRole.MLP_UP || role == TensorRole.MLP_DOWN;
                if (mlp) {
                    assertThat(out.contains(ref.name())).as(ref.name()).isFalse();
                } else {
                    assertThat(TensorBytes.equal(ref, out.tensor(ref.name()))).as(ref.name()).isTrue();
                    copied++;
                }
            }
            assertThat(copied).isGreaterThan(10);
            assertThat(out.tensors().keySet()).noneMatch(n -> n.matches(".*\\.mlp\\.(gate|up|down)_proj\\.weight"));
            // The output satisfies its own config: every expected tensor, nothing else.
            ModelConfig cfg = ModelConfig.read(r.output().resolve("config.json"), TinyModels.FAMILIES);
            var headers = new java.util.HashMap<String, TensorHeader>();
            out.tensors().values().forEach(t -> headers.put(t.name(), t.header()));
            ModelDescription.of(cfg.family(), cfg, headers).throwIfInvalid();
        }
    }

    /** Invariant 26 on the written config.json, with and without a shared expert. */
    @ParameterizedTest
    @ValueSource(strings = {"softmax-topk", "topk-softmax"})
    void configRoundTrip(String routing) throws IOException {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        int e = 4;
        int g = 2;
        int k = 4;
        UpcycleSpec plain = UpcycleSpec.builder().expansion(e).granularity(g).topK(k).routing(RoutingMode.parse(routing))
                .routerInit(RouterInit.ZERO).routerStd(0).scaling(ScalingMode.EXACT_DOWN).build();
        UpcycleSpec shared = plain.toBuilder().sharedExpert(SharedExpertMode.SPLIT, 16).build();
        for (UpcycleSpec spec : List.of(plain, shared)) {
            Path out = tmp.resolve("moe-" + spec.hasSharedExpert());
            ConvertFixtures.converter().convert(dense, out, ConvertFixtures.request(spec, "qwen2-moe"),
                    ConvertFixtures.settings());
            JsonNode c = JSON.readTree(out.resolve("config.json").toFile());
            int f = 64;
            int fs = spec.hasSharedExpert() ? 16 : 0;
            assertThat(c.get("num_experts").asInt() * c.get("moe_intermediate_size").asInt()).isEqualTo(e * (f - fs));
            assertThat(c.get("num_experts_per_tok").asInt()).isEqualTo(k);
            assertThat(c.get("norm_topk_prob").asBoolean()).isEqualTo(routing.equals("topk-softmax"));
            assertThat(c.get("intermediate_size").asInt()).isEqualTo(f);
            if (spec.hasSharedExpert()) {
                assertThat(c.get("shared_expert_intermediate_size").asInt()).isEqualTo(fs);
            }
        }
    }

    @Test
    void mixtralConfigCarriesSourceFields() throws IOException {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "mistral", dev.upcycle.io.DType.F32,
                b -> b.slidingWindow(128).tieWordEmbeddings(true).eosTokenIds(List.of(2, 5)).padTokenId(3)
                        .rope(dev.upcycle.model.Rope.plain(500000.0)));
        Path out = ConvertFixtures.converter().convert(dense, tmp.resolve("moe"),
                ConvertFixtures.request(e4g2t2(), "mixtral"), ConvertFixtures.settings()).output();
        JsonNode c = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(c.get("model_type").asText()).isEqualTo("mixtral");
        assertThat(c.get("num_local_experts").asInt()).isEqualTo(8);
        assertThat(c.get("intermediate_size").asInt()).isEqualTo(32);
        assertThat(c.get("sliding_window").asInt()).isEqualTo(128);
        assertThat(c.get("tie_word_embeddings").asBoolean()).isTrue();
        assertThat(c.get("eos_token_id").toString()).isEqualTo("[2,5]");
        assertThat(c.get("pad_token_id").asInt()).isEqualTo(3);
        assertThat(c.get("rope_theta").asDouble()).isEqualTo(500000.0);
        assertThat(c.get("torch_dtype").asText()).isEqualTo("float32");
    }

    /** Invariant 6 and the determinism: same inputs and options, byte-identical files. */
    @Test
    void sameInputsAndOptionsGiveByteIdenticalFiles() throws IOException {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "qwen2");
        Files.writeString(dense.resolve("tokenizer.json"), "{\"model\":{}}");
        Files.writeString(dense.resolve("generation_config.json"), "{\"eos_token_id\":2}");
        UpcycleSpec spec = UpcycleSpec.of(8, 2, 1); // defaults: softmax-topk, paper, virtual-group
        var req = ConvertFixtures.request(spec, "auto").withMaxShardSize(100_000);
        Path a = ConvertFixtures.converter().convert(dense, tmp.resolve("a"), req, ConvertFixtures.settings()).output();
        Path b = ConvertFixtures.converter().convert(dense, tmp.resolve("b"), req, ConvertFixtures.settings()).output();
        List<String> files = list(a);
        assertThat(files).contains("config.json", "README.md", "upcycle.json", "tokenizer.json",
                "generation_config.json", "model.safetensors.index.json");
        assertThat(files.stream().filter(f -> f.endsWith(".safetensors")).count()).isGreaterThan(1);
        assertThat(list(b)).isEqualTo(files);
        for (String f : files) {
            assertThat(Files.readAllBytes(b.resolve(f))).as(f).isEqualTo(Files.readAllBytes(a.resolve(f)));
        }
        assertThat(Files.readString(a.resolve("tokenizer.json"))).isEqualTo("{\"model\":{}}");
        // upcycle.json lists every other output file with its SHA-256, and the inputs.
        JsonNode prov = JSON.readTree(a.resolve("upcycle.json").toFile());
        assertThat(prov.get("outputs")).hasSize(files.size() - 1);
        assertThat(prov.get("inputs").findValuesAsText("path")).contains("config.json", "model.safetensors",
                "tokenizer.json");
        assertThat(prov.get("plan").get("step0").get("verdict").asText()).isEqualTo("approximate");
        assertThat(Files.readString(a.resolve("README.md"))).contains("base_model: dense", "softmax-topk");

        // A different seed changes the routers and nothing else.
        var other = ConvertFixtures.request(spec.toBuilder().seed(1).build(), "auto").withMaxShardSize(100_000);
        Path c = ConvertFixtures.converter().convert(dense, tmp.resolve("c"), other, ConvertFixtures.settings()).output();
        try (Checkpoint ca = Checkpoint.open(a); Checkpoint cc = Checkpoint.open(c)) {
            for (TensorRef t : ca.tensors().values()) {
                boolean router = t.name().endsWith(".mlp.gate.weight");
                assertThat(TensorBytes.equal(t, cc.tensor(t.name()))).as(t.name()).isEqualTo(!router);
            }
        }
    }

    /** Complete or absent: a failure in the middle of writing leaves no output and no staging directory. */
    @Test
    void aFailureMidwayLeavesNoOutput() {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        Path out = tmp.resolve("out").resolve("moe");
        int[] seen = {0};
        assertThatThrownBy(() -> ConvertFixtures.converter().convert(dense, out,
                ConvertFixtures.request(e4g2t2(), "mixtral").withMaxShardSize(50_000), ConvertFixtures.settings(), t -> {
                    if (++seen[0] == 40) {
                        throw new UpcycleException(ErrorKind.IoError, t.name(), "injected failure");
                    }
                })).isInstanceOf(UpcycleException.class).hasMessageContaining("injected failure");
        assertThat(seen[0]).isEqualTo(40);
        assertThat(out).doesNotExist();
        assertThat(list(out.getParent())).isEmpty();
    }

    @Test
    void nonFiniteWeightsAreRefusedBeforeAnythingIsWritten() throws IOException {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        String victim = "model.layers.1.self_attn.k_proj.weight";
        Path file = dense.resolve("model.safetensors");
        long at;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            at = f.dataStart() + f.tensor(victim).begin() + 4 * 5;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN).flip(), at);
        }
        Path out = tmp.resolve("moe");
        assertThatThrownBy(() -> ConvertFixtures.converter().convert(dense, out,
                ConvertFixtures.request(e4g2t2(), "mixtral"), ConvertFixtures.settings()))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.NonFiniteWeights);
                    assertThat(e.where()).contains(victim);
                });
        assertThat(out).doesNotExist();
        // The scan runs while the weights stream into staging: a refusal leaves no staging or lock behind.
        assertThat(list(tmp)).containsExactly("dense");
        var allow = new Converter.Settings(false, true, "test", ConvertFixtures.settings().optionsJson());
        assertThat(ConvertFixtures.converter().convert(dense, out, ConvertFixtures.request(e4g2t2(), "mixtral"), allow)
                .output()).exists();
    }

    /**
     * The input scan runs while the weights are written, yet its refusal wins as when it ran first:
     * over an output that exists (no --force), and without creating a missing parent directory.
     */
    @Test
    void nonFiniteWeightsWinOverOutputErrorsAndCreateNothing() throws IOException {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        Path file = dense.resolve("model.safetensors");
        long at;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            at = f.dataStart() + f.tensor("model.layers.1.mlp.up_proj.weight").begin();
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.POSITIVE_INFINITY).flip(), at);
        }
        Path taken = Files.createDirectories(tmp.resolve("taken"));
        Files.writeString(taken.resolve("notes.txt"), "not ours");
        for (Path out : List.of(taken, tmp.resolve("a/b/moe"))) {
            assertThatThrownBy(() -> ConvertFixtures.converter().convert(dense, out,
                    ConvertFixtures.request(e4g2t2(), "mixtral"), ConvertFixtures.settings()))
                    .isInstanceOfSatisfying(UpcycleException.class,
                            e -> assertThat(e.kind()).as(out.toString()).isEqualTo(ErrorKind.NonFiniteWeights));
        }
        assertThat(list(tmp)).containsExactly("dense", "taken");
        assertThat(list(taken)).containsExactly("notes.txt");
    }

    @Test
    void outputInsideOrAroundTheInputIsRefused() {
        Path dense = TinyModels.dense(tmp.resolve("dense"), "llama");
        for (Path out : List.of(dense, dense.resolve("moe"), tmp)) {
            assertThatThrownBy(() -> ConvertFixtures.converter().convert(dense, out,
                    ConvertFixtures.request(e4g2t2(), "mixtral"), ConvertFixtures.settings()))
                    .isInstanceOfSatisfying(UpcycleException.class,
                            e -> assertThat(e.kind()).isEqualTo(ErrorKind.UnsafeOutput));
        }
    }

    private static List<String> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
