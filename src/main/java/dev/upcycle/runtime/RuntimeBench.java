package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.data.PromptTokenizer;
import dev.upcycle.data.TokenData;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.ModelDescription;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The in-process parts of {@code scripts/bench runtime}, each printing {@code key value} lines:
 * <ul>
 *   <li>{@code ceiling}: the FP32 matmul ceiling through DJL (GFLOP/s, 1024³, best of 20), and
 *       per second of the process's CPU time;</li>
 *   <li>{@code flops DIR SEQ_LEN}: eval's forward FLOPs per token and the model's parameters;</li>
 *   <li>{@code sample DIR DATA PROMPT NEW}: greedy decoding as {@code upcycle sample} does it
 *       (whole model, KV cache), with the prompt's forward and the decoding steps timed apart;
 *       the prompt is the first PROMPT bytes of DATA as token ids.</li>
 *   <li>{@code gates DIR TOKENIZER_DIR MODE EXPERTS PROMPTS DATA}: {@link PromptGates} rows of
 *       EXPERTS gates of PROMPTS positive prompts each, the non-empty lines of DATA in turn,
 *       tokenized with the tokenizer files of TOKENIZER_DIR (which may be DIR).</li>
 * </ul>
 */
public final class RuntimeBench {
    private RuntimeBench() {
    }

    public static void main(String[] args) {
        Djl.offline();
        switch (args[0]) {
            case "ceiling" -> ceiling();
            case "flops" -> flops(Path.of(args[1]), Integer.parseInt(args[2]));
            case "sample" -> sample(Path.of(args[1]), Path.of(args[2]), Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]));
            case "gates" -> gates(Path.of(args[1]), Path.of(args[2]), PromptGates.Mode.valueOf(args[3]),
                    Integer.parseInt(args[4]), Integer.parseInt(args[5]), Path.of(args[6]));
            default -> throw new IllegalArgumentException("usage: RuntimeBench ceiling | flops DIR SEQ_LEN"
                    + " | sample DIR DATA PROMPT NEW | gates DIR TOKENIZER_DIR MODE EXPERTS PROMPTS DATA");
        }
    }

    /**
     * The ceiling by wall time (best of 20), and by the process's CPU time over 20 more: on a
     * shared machine CPU seconds stay comparable when wall time does not.
     */
    private static void ceiling() {
        System.out.printf(Locale.ROOT, "ceiling_gflops %.2f%n", Throughput.matmulCeiling(1024, 20) / 1e9);
        int n = 1024;
        int reps = 20;
        try (NDManager m = Djl.newManager()) {
            NDArray a = m.randomUniform(-1, 1, new Shape(n, n));
            NDArray b = m.randomUniform(-1, 1, new Shape(n, n));
            long cpu0 = processCpuNanos();
            for (int i = 0; i < reps; i++) {
                try (NDArray c = a.matMul(b)) {
                    c.getFloat(0, 0);
                }
            }
            double cpu = (processCpuNanos() - cpu0) / 1e9;
            System.out.printf(Locale.ROOT, "ceiling_gflops_per_cpu_s %.2f%n", reps * 2.0 * n * n * n / cpu / 1e9);
        }
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static void flops(Path dir, int seqLen) {
        try (WeightSource src = WeightSource.open(dir, FamilyRegistry.builtIn())) {
            ModelConfig c = src.config();
            ModelDescription n = ModelDescription.of(c.family(), c, java.util.Map.of());
            System.out.printf(Locale.ROOT, "parameters %d%nactive_parameters %d%nflops_per_token %.6e%n",
                    n.totalParameters(), n.activeParameters(), Throughput.forwardFlopsPerToken(c, seqLen));
        }
    }

    private static void sample(Path dir, Path data, int promptTokens, int newTokens) {
        int[] prompt = TokenData.bytes(data, promptTokens);
        long t0 = System.nanoTime();
        try (CausalLm lm = CausalLm.load(dir); KvCache cache = lm.newCache()) {
            long t1 = System.nanoTime();
            int next;
            try (NDManager step = lm.manager().newSubManager()) {
                NDArray logits = lm.forward(step.create(prompt, new Shape(1, prompt.length)), cache);
                next = (int) logits.get(0, prompt.length - 1).argMax().getLong();
            }
            long t2 = System.nanoTime();
            for (int i = 0; i < newTokens; i++) {
                try (NDManager step = lm.manager().newSubManager()) {
                    NDArray logits = lm.forward(step.create(new int[] {next}, new Shape(1, 1)), cache);
                    next = (int) logits.get(0, 0).argMax().getLong();
                }
            }
            long t3 = System.nanoTime();
            System.out.printf(Locale.ROOT, "load_s %.2f%nprompt_tokens %d%nprompt_tokens_per_s %.2f%n"
                            + "decode_tokens %d%ndecode_tokens_per_s %.3f%n", (t1 - t0) / 1e9, prompt.length,
                    prompt.length / ((t2 - t1) / 1e9), newTokens, newTokens / ((t3 - t2) / 1e9));
        }
    }

    private static void gates(Path dir, Path tokenizerDir, PromptGates.Mode mode, int experts, int prompts, Path data) {
        List<String> lines;
        try {
            lines = Files.readAllLines(data).stream().map(String::strip).filter(l -> !l.isEmpty()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long t0 = System.nanoTime();
        ModelConfig c;
        try (WeightSource src = WeightSource.open(dir, FamilyRegistry.builtIn())) {
            c = src.config();
        }
        List<PromptGates.GatePrompts> gates = new ArrayList<>();
        int tokens = 0;
        try (PromptTokenizer tok = PromptTokenizer.forModel(tokenizerDir, c.vocabSize(), c.bosTokenId())) {
            for (int e = 0; e < experts; e++) {
                List<String> text = lines.subList(e * prompts, (e + 1) * prompts);
                List<int[]> ids = tok.encodeAll(text, "experts[" + e + "].positive_prompts");
                tokens += ids.stream().mapToInt(a -> a.length).sum();
                gates.add(new PromptGates.GatePrompts(ids, List.of()));
            }
        }
        long t1 = System.nanoTime();
        float[][] rows = PromptGates.compute(dir, FamilyRegistry.builtIn(), mode, gates);
        long t2 = System.nanoTime();
        int d = c.hiddenSize();
        double maxCos = -1;
        float[] last = rows[rows.length - 1];
        for (int a = 0; a < experts; a++) {
            for (int b = a + 1; b < experts; b++) {
                double dot = 0;
                for (int j = 0; j < d; j++) {
                    dot += (double) last[a * d + j] * last[b * d + j];
                }
                maxCos = Math.max(maxCos, dot);
            }
        }
        System.out.printf(Locale.ROOT, "layers %d%ngates %d%nprompt_tokens %d%ntokenize_s %.2f%ngates_s %.2f%n"
                + "last_layer_max_cosine %.4f%n", rows.length, experts, tokens, (t1 - t0) / 1e9, (t2 - t1) / 1e9, maxCos);
    }
}
