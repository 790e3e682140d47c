package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.data.TokenSource;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.train.ComputeMatch;
import dev.upcycle.train.TrainConfig;
import dev.upcycle.train.TrainLoop;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code upcycle train}: a short continued-training pass; builds a {@link TrainConfig} and runs {@link TrainLoop}. */
@Command(name = "train", sortOptions = false, mixinStandardHelpOptions = true,
        description = {"Continued training of a dense or MoE checkpoint in FP32 through the DJL PyTorch engine, "
                + "with AdamW, warmup + cosine learning rate, global-norm clipping and, for MoE models, the "
                + "load-balancing and router z-losses.",
            "Writes into the output directory: the final model (same family, format and dtypes as the input), "
                + "metrics.jsonl, loss.png, expert-load.png, train-config.json and checkpoints/step-N "
                + "(resumable bit for bit with --resume).",
            "Data options as for eval. Defaults suit the tiny test models on a 2-core CPU.",
            "Exits 1 when the loss or gradient becomes NaN or infinite (the last checkpoint is kept)."},
        footerHeading = "%nExample:%n",
        footer = "  upcycle train test-fixtures/tiny-llama --data test-fixtures/corpus/train.txt "
                + "--eval-data test-fixtures/corpus/valid.txt -o build/trained --steps 200")
final class TrainCommand implements Callable<Integer>, KeyFigures {

    private TrainLoop.Result result;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "The model checkpoint directory, or a model id ORG/NAME[@REVISION] in the Hugging Face cache.")
    Path dir;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Training text, or pre-tokenized .bin ids.")
    Path data;

    @Mixin
    OutputOptions output;

    @Mixin
    TokenizerOptions.WithBinDtype tokenization;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "200", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", description = "Sequences per micro-batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq-len", paramLabel = "L", defaultValue = Options.SEQ_LEN, description = "Tokens per sequence, as eval's default (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--lr", paramLabel = "LR", defaultValue = "3e-3",
            description = "Peak learning rate; reset to the pre-training peak, as the paper found best "
                    + "(default: ${DEFAULT-VALUE}, the pre-training peak of the shipped tiny model).")
    double lr;

    @Option(names = "--min-lr", paramLabel = "LR", defaultValue = "3e-4", description = "Final learning rate of the cosine (default: ${DEFAULT-VALUE}).")
    double minLr;

    @Option(names = "--warmup", paramLabel = "STEPS", description = "Linear warmup steps (default: steps/10).")
    Integer warmup;

    @Option(names = "--schedule", completionCandidates = Candidates.Schedule.class, defaultValue = "cosine", paramLabel = "cosine|constant",
            description = "Shape after warmup (default: ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--weight-decay", paramLabel = "W", defaultValue = "0.1",
            description = "AdamW decoupled weight decay, 2-D weights only (default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--aux-loss", paramLabel = "ALPHA", defaultValue = "1e-2", description = "Load-balancing loss weight α (default: ${DEFAULT-VALUE}).")
    double auxLoss;

    @Option(names = "--z-loss", paramLabel = "BETA", defaultValue = "0", description = "Router z-loss weight β; 1e-3 is usual when on (default: ${DEFAULT-VALUE}).")
    double zLoss;

    @Option(names = "--grad-clip", paramLabel = "NORM", defaultValue = "1.0", description = "Maximum global gradient norm, 0 = off (default: ${DEFAULT-VALUE}).")
    double gradClip;

    @Option(names = "--accumulate", paramLabel = "N", defaultValue = "1", description = "Micro-batches per step (default: ${DEFAULT-VALUE}).")
    int accumulate;

    @Option(names = "--data-slice", paramLabel = "I/N",
            description = "Train on the I-th of N equal contiguous parts of --data (e.g. 2/3), so branches of one "
                + "model can each see different text (default: all of it).")
    String dataSlice;

    @Option(names = "--eval-data", paramLabel = "FILE", description = "Validation text or .bin, tokenized like --data.")
    Path evalData;

    @Option(names = "--eval-every", paramLabel = "N", defaultValue = "50", description = "Evaluate every N steps and at the end, 0 = only at the end (default: ${DEFAULT-VALUE}).")
    int evalEvery;

    @Option(names = "--eval-tokens", paramLabel = "N", defaultValue = "65536", description = "Validation tokens predicted per evaluation at most, as eval's --max-tokens (default: ${DEFAULT-VALUE}).")
    int evalTokens;

    @Option(names = "--save-every", paramLabel = "N", defaultValue = "100", description = "Checkpoint every N steps to OUT/checkpoints/step-N, 0 = never (default: ${DEFAULT-VALUE}).")
    int saveEvery;

    @Option(names = "--log-every", paramLabel = "N", defaultValue = "10", description = "A log line every N steps when not on a terminal (default: ${DEFAULT-VALUE}).")
    int logEvery;

    @Option(names = "--resume", paramLabel = "CHECKPOINT", description = "Continue from a checkpoints/step-N directory of an earlier run (same options).")
    Path resume;

    @Option(names = "--device", completionCandidates = Candidates.Device.class, defaultValue = "auto", paramLabel = "auto|cpu|gpu",
            description = "auto: a GPU when DJL finds a CUDA engine, else the CPU (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Data order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--compute-of", paramLabel = "DIR",
            description = "Compute-matched training: train as many steps as give the forward FLOPs of --steps "
                    + "steps of the model in DIR (a directory or a model id), at the same batch and sequence length (forward FLOPs per token as in docs/attention-experts.md).")
    Path computeOf;

    @Option(names = "--json", description = "Print one JSON document on stdout; progress goes to stderr.")
    boolean json;

    @Override
    public Integer call() {
        dir = ModelArgs.dir(dir);
        computeOf = ModelArgs.dir(computeOf);
        int[] slice = dataSlice == null ? new int[] {0, 1} : TokenSource.parseSlice(dataSlice);
        TokenSource train = tokenization.source(data, slice[0], slice[1]);
        TokenSource eval = evalData == null ? null : tokenization.source(evalData);
        int steps = computeOf == null ? this.steps : ComputeMatch.steps(this.steps, dir, computeOf, seqLen);
        if (computeOf != null && !json && !output.quiet()) {
            spec.commandLine().getOut().printf("compute-matched to %d steps of %s: %d steps%n", this.steps, computeOf,
                    steps);
        }
        TrainConfig config = new TrainConfig(dir, train, eval, output.dir(), steps, batch, seqLen, accumulate, lr, minLr,
                warmup == null ? steps / 10 : warmup, choice(TrainConfig.Schedule.class, "--schedule", schedule),
                weightDecay, auxLoss, zLoss, gradClip, evalEvery, evalTokens, saveEvery, logEvery, resume,
                choice(TrainConfig.DeviceChoice.class, "--device", device), seed, output.force());
        PrintWriter log = json ? spec.commandLine().getErr() : spec.commandLine().getOut();
        boolean terminal = !json && !output.quiet() && System.console() != null;
        result = TrainLoop.run(config, output.quiet() && !json ? new PrintWriter(PrintWriter.nullWriter()) : log,
                terminal);
        if (json) {
            ObjectNode o = Json.document(true);
            o.put("output", result.output().toString());
            o.put("steps", result.steps());
            o.put("final_loss", result.finalLoss());
            if (result.evalLoss() != null) {
                o.put("eval_loss", result.evalLoss());
            }
            o.put("tokens_per_second", result.tokensPerSecond());
            o.put("device", result.device());
            o.put("tokenization", result.tokenization());
            o.set("config", config.toJson());
            spec.commandLine().getOut().println(Json.pretty(o));
        }
        return 0;
    }

    private static <E extends Enum<E>> E choice(Class<E> type, String option, String value) {
        try {
            return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            java.util.List<String> names = java.util.Arrays.stream(type.getEnumConstants())
                    .map(c -> c.name().toLowerCase(Locale.ROOT)).toList();
            throw new UpcycleException(ErrorKind.InvalidOption, option, value + " is not one of "
                    + String.join(", ", names) + dev.upcycle.error.Suggestions.didYouMean(value, names));
        }
    }

    @Override
    public Map<String, String> keyFigures() {
        Map<String, String> m = new LinkedHashMap<>();
        if (result != null) {
            m.put("loss", String.format(Locale.ROOT, "%.4f", result.finalLoss()));
            if (result.evalLoss() != null) {
                m.put("eval", String.format(Locale.ROOT, "%.4f", result.evalLoss()));
            }
            m.put("tok/s", String.format(Locale.ROOT, "%.0f", result.tokensPerSecond()));
        }
        return m;
    }
}
