package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.Evaluator;
import dev.upcycle.train.TokenSource;
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
                + "through the DJL PyTorch engine.",
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

    @Parameters(index = "0", paramLabel = "DIR", description = "The model checkpoint directory.")
    Path dir;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Text file, or pre-tokenized .bin ids.")
    Path data;

    @picocli.CommandLine.Mixin
    TokenizationOptions tokenization;

    @Option(names = "--max-tokens", paramLabel = "N", description = "Evaluate at most N predicted tokens.")
    Integer maxTokens;

    @Option(names = "--seq-len", paramLabel = "L", defaultValue = "256",
            description = "Context window of each evaluated chunk (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--max-loss", paramLabel = "X", description = "Exit 1 when the mean loss is above X (a CI gate).")
    Double maxLoss;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

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
        if (maxTokens != null && maxTokens < 1) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--max-tokens", maxTokens + " must be >= 1");
        }
        if (!Files.isRegularFile(data)) {
            throw new UpcycleException(ErrorKind.IoError, data.toString(), "no such file");
        }
        long start;
        Evaluator.Result r;
        String how;
        try (CausalLm lm = CausalLm.load(dir)) {
            int limit = maxTokens == null ? Integer.MAX_VALUE - 16 : maxTokens + 1;
            TokenSource.Tokens t = tokenization.source(data).load(dir, lm.config().vocabSize(), limit);
            int[] ids = t.ids();
            how = t.tokenization();
            checkIds(ids, lm.config().vocabSize());
            start = System.nanoTime();
            r = Evaluator.evaluate(lm, ids, seqLen);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        result = r;
        boolean missed = maxLoss != null && !(r.loss() <= maxLoss);
        print(r, how, seconds, missed);
        return missed ? ExitCode.CHECK_FAILED.code() : ExitCode.OK.code();
    }

    private void checkIds(int[] ids, int vocab) {
        if (ids.length < 2) {
            throw new UpcycleException(ErrorKind.InvalidData, data.toString(),
                    ids.length + " token(s); at least 2 are needed to predict one");
        }
    }

    private void print(Evaluator.Result r, String tokenization, double seconds, boolean missed) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode o = JsonNodeFactory.instance.objectNode();
            o.put("model", dir.toString());
            o.put("data", data.toString());
            o.put("tokenization", tokenization);
            o.put("tokens", r.tokens());
            o.put("windows", r.windows());
            o.put("seq_len", r.seqLen());
            o.put("loss", r.loss());
            o.put("perplexity", r.perplexity());
            o.put("seconds", seconds);
            if (maxLoss != null) {
                o.put("max_loss", maxLoss);
                o.put("passed", !missed);
            }
            out.println(Json.pretty(o));
            return;
        }
        out.printf(Locale.ROOT, "eval %s on %s (%s)%n", dir, data, tokenization);
        out.printf(Locale.ROOT, "  tokens      %d (%d windows of up to %d)%n", r.tokens(), r.windows(), r.seqLen());
        out.printf(Locale.ROOT, "  loss        %.4f nats/token%n", r.loss());
        out.printf(Locale.ROOT, "  perplexity  %.3f%n", r.perplexity());
        out.printf(Locale.ROOT, "  time        %.1f s (%.0f tokens/s, model loading excluded)%n", seconds, r.tokens() / seconds);
        if (maxLoss != null) {
            out.printf(Locale.ROOT, "result: loss %.4f %s --max-loss %s%n", r.loss(), missed ? "is above" : "is within",
                    maxLoss);
        }
    }

    @Override
    public java.util.Map<String, String> keyFigures() {
        if (result == null) {
            return java.util.Map.of();
        }
        return java.util.Map.of("loss", String.format(Locale.ROOT, "%.4f", result.loss()),
                "ppl", String.format(Locale.ROOT, "%.2f", result.perplexity()));
    }
}
