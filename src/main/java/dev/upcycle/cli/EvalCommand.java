package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.data.TokenSource;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.runtime.Evaluator;
import dev.upcycle.runtime.MemoryAvailable;
import dev.upcycle.runtime.StreamedEval;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code upcycle eval}: mean token loss and perplexity of a model on a data file. */
@Command(name = "eval", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Mean next-token loss (nats) and perplexity of a model on a data file, computed in FP32 "
                + "through the DJL PyTorch engine. The model is read one layer at a time and the output head in "
                + "blocks, so memory is bounded by the largest layer, not the model.",
            "Data: a text file, tokenized with --tokenizer, with --bytes (one token per byte), or by default with "
                + "DIR/tokenizer.json when present and byte tokens for a model with a 256-token vocabulary; "
                + "or a pre-tokenized .bin file of little-endian ids, uint32 when named *.u32.bin and uint16 "
                + "otherwise (override with --bin-dtype).",
            "Exits 1 when --max-loss is given and the loss is above it."},
        footerHeading = "%nExample:%n",
        footer = "  upcycle eval test-fixtures/tiny-llama --data test-fixtures/corpus/valid.txt --bytes --max-loss 6")
final class EvalCommand implements Callable<Integer>, KeyFigures {

    private Evaluator.Result result;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "The model checkpoint directory, or a model id ORG/NAME[@REVISION] in the Hugging Face cache.")
    Path dir;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Text file, or pre-tokenized .bin ids.")
    Path data;

    @picocli.CommandLine.Mixin
    TokenizerOptions.WithBinDtype tokenization;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Evaluate at most N predicted tokens (up to 2^30).")
    Integer maxTokens;

    @Option(names = "--seq-len", paramLabel = "L", defaultValue = Options.SEQ_LEN,
            description = "Context window of each evaluated chunk, at most the model's max_position_embeddings "
                    + "(default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--max-loss", paramLabel = "X", description = "Exit 1 when the mean loss is above X (a CI gate).")
    Double maxLoss;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    /** Largest --max-tokens: the ids are held as one int array. */
    static final int MAX_TOKENS = 1 << 30;

    @Override
    public Integer call() {
        if (seqLen < 1) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--seq-len", seqLen + " must be >= 1");
        }
        // A NaN bar would fail every run and an infinite or negative one says nothing: refuse them as values.
        if (maxLoss != null && !(maxLoss >= 0 && Double.isFinite(maxLoss))) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--max-loss", maxLoss
                    + " is not a loss bar; give a finite number >= 0 (nats per token)");
        }
        if (maxTokens != null && (maxTokens < 1 || maxTokens > MAX_TOKENS)) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--max-tokens", maxTokens + " is not between 1 and "
                    + MAX_TOKENS);
        }
        if (!Files.isRegularFile(data)) {
            throw new UpcycleException(ErrorKind.IoError, data.toString(), "no such file");
        }
        dir = ModelArgs.dir(dir);
        long start;
        Evaluator.Result r;
        String how;
        try (StreamedEval model = StreamedEval.open(dir, FamilyRegistry.builtIn())) {
            ModelConfig c = model.config();
            checkSeqLen(c);
            int limit = (maxTokens == null ? MAX_TOKENS : maxTokens) + 1;
            TokenSource.Tokens t = tokenization.source(data).load(dir, c.vocabSize(), limit);
            int[] ids = t.ids();
            how = t.tokenization();
            checkIds(ids, c.vocabSize());
            start = System.nanoTime();
            r = model.evaluate(ids, seqLen);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        result = r;
        boolean missed = maxLoss != null && !(r.loss() <= maxLoss);
        print(r, how, seconds, missed);
        return missed ? ExitCode.CHECK_FAILED.code() : ExitCode.OK.code();
    }

    /** --seq-len within the model's context and within memory for one window's attention, before any weight is read. */
    private void checkSeqLen(ModelConfig c) {
        if (seqLen > c.maxPositionEmbeddings()) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--seq-len", seqLen
                    + " is above the model's max_position_embeddings of " + c.maxPositionEmbeddings(),
                    "use --seq-len " + c.maxPositionEmbeddings() + " or less");
        }
        long needed = StreamedEval.attentionBytes(c, seqLen);
        MemoryAvailable have = MemoryAvailable.probe();
        if (needed > have.nativeBytes() / 2) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--seq-len", String.format(Locale.ROOT,
                    "%d needs %.1f GiB for the attention scores of one window, more than half of the %.1f GiB available",
                    seqLen, needed / GIB, have.nativeBytes() / GIB), "use a smaller --seq-len");
        }
    }

    private static final double GIB = 1L << 30;

    private void checkIds(int[] ids, int vocab) {
        if (ids.length < 2) {
            throw new UpcycleException(ErrorKind.InvalidData, data.toString(),
                    ids.length + " token(s); at least 2 are needed to predict one");
        }
    }

    private void print(Evaluator.Result r, String tokenization, double seconds, boolean missed) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = Json.document(!missed);
            o.put("model", dir.toString());
            o.put("data", data.toString());
            o.put("tokenization", tokenization);
            o.put("tokens", r.tokens());
            o.put("windows", r.windows());
            o.put("seq_len", r.seqLen());
            o.put("loss", r.loss());
            o.put("perplexity", Perplexity.json(r.loss()));
            o.put("seconds", seconds);
            if (maxLoss != null) {
                o.put("max_loss", maxLoss);
            }
            out.println(Json.pretty(o));
            return;
        }
        out.printf(Locale.ROOT, "eval %s on %s (%s)%n", dir, data, tokenization);
        out.printf(Locale.ROOT, "  tokens      %d (%d windows of up to %d)%n", r.tokens(), r.windows(), r.seqLen());
        out.printf(Locale.ROOT, "  loss        %.4f nats/token at seq-len %d%n", r.loss(), r.seqLen());
        out.printf(Locale.ROOT, "  perplexity  %s%n", Perplexity.text(r.loss()));
        out.printf(Locale.ROOT, "  time        %.1f s (%.0f tokens/s, reading the weights included)%n", seconds,
                r.tokens() / seconds);
        if (maxLoss != null) {
            out.printf(Locale.ROOT, "result: loss %.4f at seq-len %d %s --max-loss %s%n", r.loss(), r.seqLen(),
                    missed ? "is above" : "is within", maxLoss);
        }
    }

    @Override
    public java.util.Map<String, String> keyFigures() {
        if (result == null) {
            return java.util.Map.of();
        }
        java.util.Map<String, String> f = new java.util.LinkedHashMap<>();
        f.put("loss", String.format(Locale.ROOT, "%.4f", result.loss()));
        f.put("ppl", Perplexity.text(result.loss()));
        f.put("seq_len", Integer.toString(result.seqLen()));
        return f;
    }
}
