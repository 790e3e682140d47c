package dev.upcycle.train;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.data.TokenSource;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Everything one training run needs; invalid values cannot exist (checked in the constructor).
 * Logged at start and written next to the outputs as {@code train-config.json}.
 *
 * @param model       input checkpoint directory (dense or MoE, any supported family)
 * @param data        training tokens
 * @param evalData    validation tokens, or null for no evaluation
 * @param output      run directory: final model, metrics, plots, {@code checkpoints/step-N}
 * @param steps       optimizer steps in total (a resumed run continues up to this number)
 * @param batch       sequences per micro-batch
 * @param seqLen      tokens per sequence (inputs; targets are shifted by one)
 * @param accumulate  micro-batches per optimizer step (gradient accumulation)
 * @param lr          peak learning rate (reached after warmup)
 * @param minLr       final learning rate of the cosine schedule
 * @param warmup      linear warmup steps
 * @param schedule    cosine (after warmup) or constant
 * @param weightDecay decoupled weight decay of AdamW, on 2-D weights only
 * @param auxLoss     α of the load-balancing loss (ignored for dense models)
 * @param zLoss       β of the router z-loss (ignored for dense models)
 * @param gradClip    maximum global gradient norm; 0 turns clipping off
 * @param evalEvery   evaluate every N steps (and at the end); 0 only at the end
 * @param evalTokens  at most this many validation tokens per evaluation
 * @param saveEvery   checkpoint every N steps; 0 never (the final model is always written)
 * @param logEvery    a plain log line every N steps when not on a terminal
 * @param resume      a {@code checkpoints/step-N} directory to continue from, or null
 * @param device      where to compute
 * @param seed        data order
 * @param force       replace an existing output directory made by upcycle
 */
public record TrainConfig(Path model, TokenSource data, TokenSource evalData, Path output, int steps, int batch,
                          int seqLen, int accumulate, double lr, double minLr, int warmup, Schedule schedule,
                          double weightDecay, double auxLoss, double zLoss, double gradClip, int evalEvery,
                          int evalTokens, int saveEvery, int logEvery, Path resume, DeviceChoice device, long seed,
                          boolean force) {

    public static final String FILE_NAME = "train-config.json";
    /**
     * Tokens of one micro-batch at most: its logits alone take batch × seq-len × vocabulary floats,
     * so far fewer fit any machine; the memory estimate decides below this.
     */
    public static final long MAX_MICRO_BATCH_TOKENS = 1L << 20;

    /** Learning-rate shape after warmup. */
    public enum Schedule { COSINE, CONSTANT }

    /** {@code auto}: a GPU when DJL finds a CUDA build of the engine and a device, else the CPU. */
    public enum DeviceChoice { AUTO, CPU, GPU }

    public TrainConfig {
        require(model != null, "DIR", "a model directory is required");
        require(data != null, "--data", "training data is required");
        require(output != null, "--output", "an output directory is required");
        require(steps >= 1, "--steps", steps + " must be >= 1");
        require(batch >= 1, "--batch", batch + " must be >= 1");
        require(seqLen >= 1, "--seq-len", seqLen + " must be >= 1");
        require(accumulate >= 1, "--accumulate", accumulate + " must be >= 1");
        require(seqLen <= MAX_MICRO_BATCH_TOKENS, "--seq-len", seqLen + " is more than " + MAX_MICRO_BATCH_TOKENS
                + " tokens, the most one micro-batch may hold");
        require((long) batch * seqLen <= MAX_MICRO_BATCH_TOKENS, "--batch", batch + " sequences of --seq-len " + seqLen
                + " make " + (long) batch * seqLen + " tokens per micro-batch; at most " + MAX_MICRO_BATCH_TOKENS
                + " (--batch " + MAX_MICRO_BATCH_TOKENS / seqLen + ")");
        require((long) batch * seqLen * accumulate <= TrainLoop.MAX_TOKENS, "--accumulate", accumulate
                + " micro-batches of " + (long) batch * seqLen + " tokens make more tokens per step than the "
                + TrainLoop.MAX_TOKENS + " a run can read (at most --accumulate "
                + TrainLoop.MAX_TOKENS / ((long) batch * seqLen) + ")");
        require(lr > 0 && Double.isFinite(lr), "--lr", lr + " must be a positive number");
        require(minLr >= 0 && minLr <= lr, "--min-lr", minLr + " must be between 0 and --lr " + lr);
        require(warmup >= 0 && warmup <= steps, "--warmup", warmup + " must be between 0 and --steps " + steps);
        require(schedule != null, "--schedule", "cosine or constant");
        require(weightDecay >= 0 && Double.isFinite(weightDecay), "--weight-decay", weightDecay + " must be >= 0");
        require(auxLoss >= 0 && Double.isFinite(auxLoss), "--aux-loss", auxLoss + " must be >= 0");
        require(zLoss >= 0 && Double.isFinite(zLoss), "--z-loss", zLoss + " must be >= 0");
        require(gradClip >= 0 && Double.isFinite(gradClip), "--grad-clip", gradClip + " must be >= 0 (0: off)");
        require(evalEvery >= 0, "--eval-every", evalEvery + " must be >= 0");
        require(evalTokens >= 2, "--eval-tokens", evalTokens + " must be >= 2");
        require(saveEvery >= 0, "--save-every", saveEvery + " must be >= 0");
        require(logEvery >= 1, "--log-every", logEvery + " must be >= 1");
        require(device != null, "--device", "auto, cpu or gpu");
    }

    private static void require(boolean ok, String where, String why) {
        if (!ok) {
            throw new UpcycleException(ErrorKind.InvalidOption, where, why);
        }
    }

    /** Tokens one optimizer step consumes. */
    public long tokensPerStep() {
        return (long) batch * seqLen * accumulate;
    }

    /**
     * The configuration as written to {@code train-config.json} and shown by {@code train --json}: the
     * options with snake_case keys ({@code seq_len}), as every JSON document of the tool.
     */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("dir", model.toString());
        o.set("data", data.toJson());
        if (evalData != null) {
            o.set("eval_data", evalData.toJson());
        }
        o.put("output", output.toString());
        o.put("steps", steps);
        o.put("batch", batch);
        o.put("seq_len", seqLen);
        o.put("accumulate", accumulate);
        o.put("lr", lr);
        o.put("min_lr", minLr);
        o.put("warmup", warmup);
        o.put("schedule", schedule.name().toLowerCase(Locale.ROOT));
        o.put("weight_decay", weightDecay);
        o.put("aux_loss", auxLoss);
        o.put("z_loss", zLoss);
        o.put("grad_clip", gradClip);
        o.put("eval_every", evalEvery);
        o.put("eval_tokens", evalTokens);
        o.put("save_every", saveEvery);
        o.put("log_every", logEvery);
        if (resume != null) {
            o.put("resume", resume.toString());
        }
        o.put("device", device.name().toLowerCase(Locale.ROOT));
        o.put("seed", seed);
        o.put("tokens_per_step", tokensPerStep());
        return o;
    }

    /**
     * The configuration as upcycle.json's {@code options} records it: keyed by the option names
     * ({@code seq-len}), as convert's options are.
     */
    public ObjectNode options() {
        return optionNames(toJson());
    }

    private static ObjectNode optionNames(ObjectNode snake) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        snake.fields().forEachRemaining(e -> o.set(e.getKey().replace('_', '-'),
                e.getValue().isObject() ? optionNames((ObjectNode) e.getValue()) : e.getValue()));
        return o;
    }

    /** One line for the log. */
    public String summary() {
        return String.format(Locale.ROOT, "steps %d, batch %d x seq %d x accumulate %d (%d tokens/step), lr %.3g -> %.3g "
                        + "(%s, warmup %d), weight decay %.3g, aux %.3g, z %.3g, clip %.3g, seed %d", steps, batch,
                seqLen, accumulate, tokensPerStep(), lr, minLr, schedule.name().toLowerCase(Locale.ROOT), warmup,
                weightDecay, auxLoss, zLoss, gradClip, seed);
    }
}
