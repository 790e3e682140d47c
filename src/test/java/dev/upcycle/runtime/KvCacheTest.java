package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.DType;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.Rope;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.RelativeError;
import dev.upcycle.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * T14 and T15 (docs/design.md, "Invariants of attention experts and merges"): decoding with a KV cache,
 * token by token or in chunks, gives the logits of the full forward (≤ 1e-5 relative in f32), for BAM
 * models merged from three distinct seeds and for the dense and MoE families; and the cache of a
 * shared_kv model is as large as the dense one, that of a separate model E_a times larger.
 */
class KvCacheTest {
    private static final double TOLERANCE = 1e-5;
    private static final int LENGTH = 12;

    @TempDir
    Path tmp;

    /** A dense Llama seed (made once per test): 2 layers, hidden 32, 4 heads / 2 kv heads of 8, vocabulary 97. */
    private Path seed(String name, int seed) {
        Path out = tmp.resolve(name);
        if (java.nio.file.Files.isDirectory(out)) {
            return out;
        }
        cli("synth", "--family", "llama", "-o", out.toString(), "--hidden", "32", "--heads", "4", "--kv-heads", "2",
                "--intermediate", "48", "--vocab", "97", "--seed", String.valueOf(seed));
        return out;
    }

    /**
     * BAM (docs/attention-experts.md, "Several seeds: BTX and BAM merges") from three distinct seeds,
     * native format.
     */
    private Path bam(String variant) {
        List<String> args = new ArrayList<>(List.of("convert"));
        for (int s = 1; s <= 3; s++) {
            args.add(seed("seed" + s, s).toString());
        }
        Path out = tmp.resolve(variant);
        args.addAll(List.of("-o", out.toString(), "--attention", variant, "--target", "native", "--top-k", "1",
                "--routing", "topk-softmax", "-q"));
        cli(args.toArray(String[]::new));
        return out;
    }

    private static void cli(String... args) {
        Cli run = Cli.run(args);
        assertThat(run.code()).as(run.err()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"moa-separate", "moa-shared-kv"})
    void bamFromThreeSeedsDecodesLikeTheFullForward(String variant) {
        Path model = bam(variant);
        assertThat(error(model, ones(LENGTH))).as("token by token").isLessThanOrEqualTo(TOLERANCE);
        assertThat(error(model, new int[] {5, 1, 1, 1, 1, 3})).as("prompt then chunks").isLessThanOrEqualTo(TOLERANCE);
    }

    /**
     * BAM from three Qwen3 seeds (per-expert q/k norms; layer 1 windowed) or three Mistral seeds
     * (every layer windowed), both with a window of 4, shorter than the sequence.
     */
    @ParameterizedTest(name = "{0} {1}")
    @org.junit.jupiter.params.provider.CsvSource({"qwen3,moa-separate", "qwen3,moa-shared-kv",
        "mistral,moa-separate", "mistral,moa-shared-kv"})
    void qkNormsAndWindowsDecodeLikeTheFullForward(String family, String variant) {
        List<String> args = new ArrayList<>(List.of("convert"));
        for (int s = 1; s <= 3; s++) {
            Path seed = TinyModels.dense(tmp.resolve(family + s), family, DType.F32, s,
                    b -> family.equals("qwen3") ? b.useSlidingWindow(true).slidingWindow(4).maxWindowLayers(1)
                            : b.slidingWindow(4));
            args.add(seed.toString());
        }
        Path model = tmp.resolve(family + "-" + variant);
        args.addAll(List.of("-o", model.toString(), "--attention", variant, "--top-k", "1", "--routing",
                "topk-softmax", "-q"));
        cli(args.toArray(String[]::new));
        assertThat(config(model).slidingWindow(1)).isEqualTo(4);
        assertThat(error(model, ones(LENGTH))).as("token by token").isLessThanOrEqualTo(TOLERANCE);
        assertThat(error(model, new int[] {5, 1, 1, 1, 1, 3})).as("prompt then chunks").isLessThanOrEqualTo(TOLERANCE);
    }

    /** A parallel block (two norms, both on x), made by declaring it in a BAM config. */
    @Test
    void parallelBlocksDecodeLikeTheFullForward() throws IOException {
        Path model = bam("moa-separate");
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(model.resolve("config.json").toFile());
        config.put("block_layout", "parallel");
        config.put("parallel_num_norms", 2);
        json.writeValue(model.resolve("config.json").toFile(), config);
        TinyModels.manifest(model);
        assertThat(error(model, ones(LENGTH))).isLessThanOrEqualTo(TOLERANCE);
    }

    /** A one-norm parallel seed from synth, upcycled with both attention-expert variants. */
    @ParameterizedTest
    @ValueSource(strings = {"moa-separate", "moa-shared-kv"})
    void oneNormParallelSeedDecodesLikeTheFullForward(String variant) {
        Path seed = tmp.resolve("parallel-seed");
        cli("synth", "--family", "llama", "--parallel-blocks", "1", "-o", seed.toString(), "--hidden", "32",
                "--heads", "4", "--kv-heads", "2", "--intermediate", "48", "--vocab", "97", "-q");
        Path model = tmp.resolve("parallel-" + variant);
        cli("convert", seed.toString(), "-o", model.toString(), "--attention", variant, "--attention-experts", "3",
                "--experts", "4", "--top-k", "2", "--routing", "topk-softmax", "-q");
        assertThat(error(model, ones(LENGTH))).as("token by token").isLessThanOrEqualTo(TOLERANCE);
        assertThat(error(model, new int[] {5, 1, 1, 1, 1, 3})).as("prompt then chunks").isLessThanOrEqualTo(TOLERANCE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen2_moe", "llama-rope-llama3",
        "llama-rope-linear"})
    void denseAndMoeFamiliesDecodeLikeTheFullForward(String name) {
        Path model = family(name);
        assertThat(error(model, ones(LENGTH))).as("token by token").isLessThanOrEqualTo(TOLERANCE);
        assertThat(error(model, new int[] {5, 1, 1, 1, 1, 3})).as("prompt then chunks").isLessThanOrEqualTo(TOLERANCE);
    }

    /** GQA with a batch of two sequences: each row of the cache is its own sequence. */
    @Test
    void batchedDecodingMatchesEachSequence() {
        Path model = family("llama");
        int[][] seqs = {Sequences.random(LENGTH, 97, 1), Sequences.random(LENGTH, 97, 2)};
        try (CausalLm lm = CausalLm.load(model); KvCache cache = lm.newCache()) {
            int v = lm.config().vocabSize();
            float[][][] cached = new float[2][LENGTH][];
            for (int p = 0; p < LENGTH; p++) {
                try (NDManager step = lm.manager().newSubManager()) {
                    float[] flat = lm.forward(step.create(new int[] {seqs[0][p], seqs[1][p]}, new Shape(2, 1)), cache)
                            .toFloatArray();
                    for (int b = 0; b < 2; b++) {
                        cached[b][p] = java.util.Arrays.copyOfRange(flat, b * v, (b + 1) * v);
                    }
                }
            }
            for (int b = 0; b < 2; b++) {
                assertThat(RelativeError.of(cached[b], lm.logits(seqs[b]))).isLessThanOrEqualTo(TOLERANCE);
            }
            assertThat(cache.length()).isEqualTo(LENGTH);
            assertThat(cache.floats()).isEqualTo(2 * LENGTH * KvCache.floatsPerToken(lm.config()));
        }
    }

    /** A sliding window of w keeps w - 1 positions per layer between steps, whatever the length. */
    @Test
    void slidingWindowBoundsTheCache() {
        Path model = family("mistral"); // window 4
        int[] tokens = Sequences.random(LENGTH, 97, 3);
        try (CausalLm lm = CausalLm.load(model); KvCache cache = lm.newCache()) {
            ModelConfig c = lm.config();
            for (int p = 0; p < LENGTH; p++) {
                try (NDManager step = lm.manager().newSubManager()) {
                    lm.forward(step.create(new int[] {tokens[p]}, new Shape(1, 1)), cache);
                }
                long kept = Math.min(p + 1, 3);
                assertThat(cache.floats()).isEqualTo(kept * KvCache.floatsPerToken(c));
            }
        }
    }

    /**
     * T15: K and V floats held after 11 tokens (docs/attention-experts.md, "KV cache", counts 352 K
     * floats dense and shared_kv, 1056 separate).
     */
    @Test
    void sharedKvCachesAsMuchAsDenseAndSeparateEaTimesMore() {
        Path separate = bam("moa-separate");
        Path shared = bam("moa-shared-kv");
        Path dense = tmp.resolve("seed1");
        int tokens = 11;
        long denseFloats = cachedFloats(dense, tokens);
        assertThat(denseFloats).isEqualTo(2L * 352);
        assertThat(cachedFloats(shared, tokens)).isEqualTo(denseFloats);
        assertThat(cachedFloats(separate, tokens)).isEqualTo(3 * denseFloats);
        ModelConfig d = config(dense);
        assertThat(KvCache.floatsPerToken(d, 0)).isEqualTo(2L * 2 * 8);
        assertThat(KvCache.floatsPerToken(config(shared))).isEqualTo(KvCache.floatsPerToken(d));
        assertThat(KvCache.floatsPerToken(config(separate))).isEqualTo(3 * KvCache.floatsPerToken(d));
    }

    /** Steps leave nothing behind but one K and one V per slot, and closing the cache frees those too. */
    @Test
    void stepsLeaveOnlyTheCachedArrays() {
        try (CausalLm lm = CausalLm.load(bam("moa-separate"))) {
            int before = lm.manager().getManagedArrays().size();
            try (KvCache cache = lm.newCache()) {
                for (int n : new int[] {3, 1, 1, 2}) {
                    try (NDManager step = lm.manager().newSubManager()) {
                        lm.forward(step.create(new int[n], new Shape(1, n)), cache);
                    }
                    assertThat(lm.manager().getManagedArrays()).hasSize(before + 2 * (3 + 3));
                }
            }
            assertThat(lm.manager().getManagedArrays()).hasSize(before);
        }
    }

    /** The greedy helper picks the argmax of the full forward at every step. */
    @Test
    void generateIsGreedyOverTheFullForward() {
        try (CausalLm lm = CausalLm.load(bam("moa-shared-kv"))) {
            int[] prompt = Sequences.random(4, 97, 9);
            int[] out = lm.generate(prompt, 6);
            int[] seq = prompt;
            for (int id : out) {
                float[] last = lm.logits(seq)[seq.length - 1];
                int best = 0;
                for (int i = 1; i < last.length; i++) {
                    best = last[i] > last[best] ? i : best;
                }
                assertThat(id).isEqualTo(best);
                seq = IntStream.concat(IntStream.of(seq), IntStream.of(id)).toArray();
            }
        }
    }

    private static ModelConfig config(Path dir) {
        return ModelConfig.read(dir.resolve("config.json"), TinyModels.FAMILIES);
    }

    private static long cachedFloats(Path model, int tokens) {
        try (CausalLm lm = CausalLm.load(model); KvCache cache = lm.newCache()) {
            for (int id : Sequences.random(tokens, lm.config().vocabSize(), 3)) {
                try (NDManager step = lm.manager().newSubManager()) {
                    lm.forward(step.create(new int[] {id}, new Shape(1, 1)), cache);
                }
            }
            return cache.floats();
        }
    }

    /** Tiny random models: mistral with a window shorter than the sequence, qwen2 with biases and tied embeddings. */
    private Path family(String name) {
        Path dir = tmp.resolve(name);
        return switch (name) {
            case "mistral" -> TinyModels.random(dir, name, DType.F32, b -> b.slidingWindow(4));
            case "qwen2" -> TinyModels.random(dir, name, DType.F32, b -> b.tieWordEmbeddings(true));
            case "llama-rope-llama3" -> TinyModels.random(dir, "llama", DType.F32, b -> b.rope(rope(
                    "{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                            + "\"original_max_position_embeddings\":8}")));
            case "llama-rope-linear" -> TinyModels.random(dir, "llama", DType.F32,
                    b -> b.rope(rope("{\"rope_type\":\"linear\",\"factor\":2.0}")));
            default -> TinyModels.random(dir, name, DType.F32, b -> { });
        };
    }

    private static Rope rope(String scaling) {
        try {
            return Rope.of(10000, new ObjectMapper().readTree(scaling), "test");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int[] ones(int n) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, 1);
        return a;
    }

    /**
     * Decodes a random sequence in chunks of the given sizes, each step in its own scope, and
     * returns max|Δ| / max|full| against the full forward's logits.
     */
    private static double error(Path model, int[] chunks) {
        int length = IntStream.of(chunks).sum();
        try (CausalLm lm = CausalLm.load(model)) {
            int[] tokens = Sequences.random(length, lm.config().vocabSize(), 5);
            float[][] full = lm.logits(tokens);
            float[][] cached = new float[length][];
            int at = 0;
            try (KvCache cache = lm.newCache()) {
                for (int n : chunks) {
                    try (NDManager step = lm.manager().newSubManager()) {
                        int[] chunk = java.util.Arrays.copyOfRange(tokens, at, at + n);
                        NDArray logits = lm.forward(step.create(chunk, new Shape(1, n)), cache);
                        float[][] rows = Sequences.rows(logits.toFloatArray(), lm.config().vocabSize());
                        System.arraycopy(rows, 0, cached, at, n);
                    }
                    at += n;
                }
                assertThat(cache.length()).isEqualTo(length);
            }
            return RelativeError.of(cached, full);
        }
    }
}
