package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.data.TextCodec;
import dev.upcycle.data.TokenData;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.KvCache;
import dev.upcycle.runtime.MemoryAvailable;
import dev.upcycle.runtime.MemoryCheck;
import dev.upcycle.runtime.MemoryEstimate;
import dev.upcycle.runtime.WeightSource;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code upcycle sample}: the greedy continuation of a prompt, decoded with a KV cache. */
@Command(name = "sample", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Greedy continuation of a prompt, decoded token by token with a KV cache, in FP32 through "
                + "the DJL PyTorch engine. Prints the continuation only.",
            "Weights stored in 16 bits are held in FP32 when that fits in memory (fastest), otherwise in FP16 and "
                + "widened to FP32 one matrix at a time (--weights). The memory needed is estimated before loading; "
                + "a run that does not fit is refused (exit 4).",
            "Tokenization as in eval: --tokenizer, --bytes (one token per byte), or by default DIR/tokenizer.json "
                + "when present and byte tokens for a model with a 256-token vocabulary."},
        footerHeading = "%nExample:%n",
        footer = "  upcycle sample test-fixtures/tiny-llama --prompt \"The \" --tokens 40")
final class SampleCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "The model checkpoint directory, or a model id ORG/NAME[@REVISION] in the Hugging Face cache.")
    Path dir;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The text to continue.")
    String prompt;

    @Option(names = "--tokens", paramLabel = "N", defaultValue = "32",
            description = "New tokens to generate (default: ${DEFAULT-VALUE}).")
    int tokens;

    @picocli.CommandLine.Mixin
    TokenizerOptions text;

    @Option(names = "--ignore-eos",
            description = "Generate all --tokens even past the model's end-of-sequence token (eos_token_id).")
    boolean ignoreEos;

    /** How weights stored in 16 bits are held; the arithmetic is FP32 either way. */
    enum Holding { auto, fp32, fp16 }

    @Option(names = "--weights", paramLabel = "auto|fp32|fp16", defaultValue = "auto",
            description = "How to hold weights stored in 16 bits: fp32 (twice their memory, about three times faster "
                    + "decoding), fp16 (widened to FP32 for each product), or auto: fp32 when its estimate fits in "
                    + "three quarters of the available memory, else fp16 (default: ${DEFAULT-VALUE}).")
    Holding holding;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    public Integer call() {
        if (tokens < 1) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tokens", tokens + " must be >= 1");
        }
        dir = ModelArgs.dir(dir);
        ModelConfig config;
        boolean stored16;
        try (WeightSource src = WeightSource.open(dir, FamilyRegistry.builtIn())) {
            config = src.config();
            stored16 = src.dtypes().keySet().stream().allMatch(d -> d == DType.BF16 || d == DType.F16);
        }
        int context = config.maxPositionEmbeddings();
        if (tokens > context - 1) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tokens", tokens + " new tokens do not fit the "
                    + "model's context of max_position_embeddings " + context + " (at most " + (context - 1)
                    + " after a one-token prompt)");
        }
        try (TextCodec codec = text.codec(dir, config.vocabSize())) {
            int[] ids = codec.encode(prompt);
            checkIds(ids, config.vocabSize());
            checkLength(ids.length, context);
            MemoryAvailable have = MemoryAvailable.probe();
            boolean compact = stored16 && compact(config, ids.length, have);
            MemoryCheck.require(dir.toString(), MemoryEstimate.sample(config, compact, ids.length,
                    (long) ids.length + tokens), have, "--tokens or the prompt's length"
                            + (holding == Holding.fp32 ? ", use --weights fp16" : ""));
            try (CausalLm lm = CausalLm.load(dir, null, compact)) {
                long start = System.nanoTime();
                java.util.Set<Integer> stop = ignoreEos ? java.util.Set.of()
                        : java.util.Set.copyOf(lm.config().eosTokenIds());
                int[] out = lm.generate(ids, tokens, stop);
                double seconds = (System.nanoTime() - start) / 1e9;
                print(ids.length, out, codec.decode(out), KvCache.floatsPerToken(lm.config()), out.length / seconds,
                        !stored16 ? "stored" : compact ? "fp16" : "fp32");
            }
        }
        return ExitCode.OK.code();
    }

    /**
     * Whether to hold 16-bit weights in FP16. Widening a matrix for every product costs about three
     * times the CPU time of holding it in FP32, so auto takes FP32 whenever it fits with room to spare.
     */
    private boolean compact(ModelConfig config, int promptTokens, MemoryAvailable have) {
        return switch (holding) {
            case fp32 -> false;
            case fp16 -> true;
            case auto -> {
                MemoryEstimate fp32 = MemoryEstimate.sample(config, false, promptTokens, (long) promptTokens + tokens);
                yield fp32.nativeBytes() > have.nativeBytes() / 4 * 3 || fp32.heap() > have.heapBytes();
            }
        };
    }

    /** The prompt must fit the model's context, and so must the tokens generated after it. */
    private void checkLength(int promptTokens, int context) {
        if (promptTokens > context - 1) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--prompt", "the prompt is " + promptTokens
                    + " tokens, more than the model's context of max_position_embeddings " + context
                    + " leaves for a new token", "shorten the prompt to at most " + (context - 1) + " tokens");
        }
        if (tokens > context - promptTokens) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--tokens", tokens + " new tokens after the prompt's "
                    + promptTokens + " exceed the model's context of max_position_embeddings " + context
                    + " (at most " + (context - promptTokens) + ")");
        }
    }

    private static void checkIds(int[] ids, int vocab) {
        if (ids.length == 0) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--prompt", "the prompt gives no tokens; at least one is needed");
        }
        TokenData.requireInVocabulary(ids, vocab, "--prompt");
    }

    private void print(int promptTokens, int[] ids, String text, long kvFloats, double tokensPerSecond, String held) {
        PrintWriter out = spec.commandLine().getOut();
        if (!json) {
            out.println(text);
            return;
        }
        ObjectNode o = Json.document(true);
        o.put("prompt_tokens", promptTokens);
        o.put("new_tokens", ids.length);
        o.put("text", text);
        ArrayNode a = o.putArray("ids");
        for (int id : ids) {
            a.add(id);
        }
        o.put("kv_cache_floats_per_token", kvFloats);
        o.put("tokens_per_second", tokensPerSecond);
        o.put("weights_held", held);
        out.println(Json.pretty(o));
    }
}
