package dev.upcycle.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.upcycle.data.Batcher;
import dev.upcycle.data.TokenSource;
import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.Interrupted;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.io.OutputLock;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.Djl;
import dev.upcycle.runtime.Evaluator;
import dev.upcycle.runtime.MemoryCheck;
import dev.upcycle.runtime.MemoryEstimate;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The training loop: {@link #run} reads top to bottom, one helper per phase (learning rate,
 * forward/backward with accumulation, clip, step, log, eval, checkpoint). A non-finite loss or
 * gradient norm stops the run before the update with {@link ErrorKind#NonFiniteLoss} (exit 1: a
 * check on the run failed), so the weights are never overwritten with NaN and the last
 * checkpoint stays as it was.
 */
public final class TrainLoop {
    /** Data files are read whole; this bounds a run to 2^31 tokens. */
    static final int MAX_TOKENS = Integer.MAX_VALUE - 16;

    private TrainLoop() {
    }

    /** What a finished run reports (the key figures of {@code upcycle run}). */
    public record Result(Path output, int steps, double finalLoss, Double evalLoss, double tokensPerSecond,
                         String device, String tokenization) {
    }

    public static Result run(TrainConfig c, PrintWriter log, boolean terminal) {
        refuseOutputOverInput(c);
        // The side files copied into OUT obey the link rule: an unsafe one stops the run before OUT is touched.
        ModelFiles.of(c.model()).sideFiles();
        DevicePlan plan = DevicePlan.choose(c.device(), DeviceEnvironment.probe(c.device() != TrainConfig.DeviceChoice.CPU));
        ModelConfig config = requireFits(c, plan);
        // One run per output directory at a time: OUT is written in place, so two would interleave.
        try (OutputLock lock = OutputLock.acquire(c.output())) {
            boolean existed = Files.exists(c.output(), LinkOption.NOFOLLOW_LINKS);
            try {
                return runLocked(c, plan.device(), config.vocabSize(), log, terminal);
            } catch (Interrupted i) {
                RunDirectory.afterInterrupt(c, existed);
                throw i;
            }
        }
    }

    /**
     * Before anything is created or loaded: the sequence length must fit the model's positions,
     * and the memory estimate (parameters, gradients, AdamW moments, activations of one
     * micro-batch) what the chosen device and the JVM have. Returns the config it checked.
     */
    static ModelConfig requireFits(TrainConfig c, DevicePlan plan) {
        Path model = c.resume() != null ? c.resume() : c.model();
        ModelConfig config = CausalLm.configOf(model);
        if (c.seqLen() > config.maxPositionEmbeddings()) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--seq-len", c.seqLen() + " is more than the model's "
                    + "max_position_embeddings " + config.maxPositionEmbeddings() + " (at most "
                    + config.maxPositionEmbeddings() + ")");
        }
        MemoryCheck.require(model.toString(), MemoryEstimate.train(config, c.batch(), c.seqLen()),
                plan.memory(), "--batch or --seq-len (--accumulate keeps the tokens per step)");
        return config;
    }

    /** The output must not be, contain or lie inside the model it reads: --force would delete it. */
    private static void refuseOutputOverInput(TrainConfig c) {
        Path out = c.output().toAbsolutePath().normalize();
        Path model = c.model().toAbsolutePath().normalize();
        if (out.startsWith(model) || model.startsWith(out)) {
            throw new UpcycleException(ErrorKind.UnsafeOutput, out.toString(), "the output "
                    + (out.equals(model) ? "is" : out.startsWith(model) ? "is inside" : "contains")
                    + " the model being trained (" + model + ")", "choose an output directory elsewhere");
        }
    }

    private static Result runLocked(TrainConfig c, Device device, int vocab, PrintWriter log, boolean terminal) {
        // Data first, against the config's vocabulary: a tokenizer or data that does not fit the
        // model is refused before the output exists or any weight is read.
        TokenSource.Tokens train = c.data().load(c.model(), vocab, MAX_TOKENS);
        requireTokens(c.data(), train.ids().length, c.seqLen() + 1L,
                "--seq-len " + c.seqLen() + " needs seq-len + 1 = " + (c.seqLen() + 1L));
        // --eval-tokens counts predicted tokens, as eval's --max-tokens does: N predictions need N + 1 ids
        int[] evalIds = c.evalData() == null ? null : c.evalData().load(c.model(), vocab, c.evalTokens() + 1).ids();
        if (evalIds != null) {
            requireTokens(c.evalData(), evalIds.length, 2, "predicting one token needs 2");
        }
        Cancellation.check(); // a signal while the engine started: OUT is not touched yet
        try (NDManager root = Djl.newManager(device);
             CausalLm lm = CausalLm.load(c.resume() != null ? c.resume() : c.model(), root)) {
            // Everything that can fail on the inputs or options is checked before OUT is touched, so
            // such a failure leaves nothing behind and the rerun needs no --force.
            Map<String, NDArray> params = lm.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));
            AdamW optimizer = new AdamW(root, params, c.weightDecay());
            TrainerState state = c.resume() == null ? new TrainerState(0, c.seed(), 0, 0, List.of())
                    : resume(c, params, optimizer);
            Batcher data = new Batcher(train.ids(), c.seqLen(), c.seed(), state.dataPosition());
            LrSchedule schedule = LrSchedule.of(c);
            Checkpointing checkpoints = new Checkpointing(c.model(), lm.config(), c.options());
            RunDirectory.Prepared run = RunDirectory.prepare(c);
            boolean finished = false;
            try {
                Result r = train(c, log, terminal, lm, params, optimizer, state, train, evalIds, data, schedule,
                        checkpoints, run.dir(), device);
                finished = true;
                return r;
            } finally {
                if (!finished) {
                    RunDirectory.discardFailed(run);
                }
            }
        }
    }

    /** The data gives too few tokens for one training window (or one evaluation). */
    private static void requireTokens(TokenSource source, int have, long need, String why) {
        if (have < need) {
            throw new UpcycleException(ErrorKind.InvalidData, source.file().toString(), have + " token"
                    + (have == 1 ? "" : "s") + "; " + why, have == 0 ? "the file is empty" : "give more data or lower --seq-len");
        }
    }

    private static Result train(TrainConfig c, PrintWriter log, boolean terminal, CausalLm lm,
                                Map<String, NDArray> params, AdamW optimizer, TrainerState state,
                                TokenSource.Tokens train, int[] evalIds, Batcher data, LrSchedule schedule,
                                Checkpointing checkpoints, Path out, Device device) {
        MetricsFile metrics = MetricsFile.start(out, state.metrics());
        boolean routed = lm.config().moe() != null || lm.config().moa() != null;
        Progress progress = new Progress(log, terminal, c.logEvery(), c.steps(), routed);
        progress.line(String.format(Locale.ROOT, "train %s (%s, %s) on %s (%s, %d tokens) -> %s%n  %s", c.model(),
                lm.config().family().name(), deviceName(device), c.data().file(), train.tokenization(), train.ids().length,
                out, c.summary()));
        long tokens = state.tokensSeen();
        Path lastCheckpoint = c.resume();
        for (int step = state.step() + 1; step <= c.steps(); step++) {
            double lr = schedule.at(step - 1);                                           // lr
            long t0 = System.nanoTime();
            StepLosses losses = forwardBackward(lm, data, c);                            // forward/backward
            double norm = GradClip.clip(params.values(), c.gradClip());                  // clip
            requireFinite(step, losses.loss(), norm, lastCheckpoint);
            optimizer.step(params, lr);                                                  // step (zeroes gradients)
            double stepSeconds = (System.nanoTime() - t0) / 1e9;
            tokens += c.tokensPerStep();
            StepMetrics m = new StepMetrics(step, lr, losses.loss(), losses.aux(), losses.z(), norm,
                    c.tokensPerStep() / stepSeconds, losses.load(), null);
            metrics.add(m);                                                              // log
            progress.step(m, stepSeconds, c.tokensPerStep());
            if (evalIds != null && (step == c.steps() || c.evalEvery() > 0 && step % c.evalEvery() == 0)) {
                double evalLoss = Evaluator.evaluate(lm, evalIds, c.seqLen()).loss();    // eval
                metrics.add(StepMetrics.eval(step, evalLoss));
                progress.line(String.format(Locale.ROOT, "step %d  eval loss %.4f at seq-len %d", step, evalLoss,
                        c.seqLen()));
            }
            if (c.saveEvery() > 0 && step % c.saveEvery() == 0) {                       // checkpoint
                lastCheckpoint = checkpoints.save(out.resolve("checkpoints").resolve("step-" + step), params,
                        optimizer, new TrainerState(step, c.seed(), data.position(), tokens, metrics.all()));
                progress.line("saved " + lastCheckpoint);
            }
        }
        checkpoints.saveFinal(out, params);
        Plots.loss(metrics.all(), c.tokensPerStep(), c.output().toString(), out.resolve(Plots.LOSS_FILE));
        Plots.expertLoad(metrics.all(), out.resolve(Plots.LOAD_FILE));
        int done = c.steps() - state.step();
        Result r = new Result(out, c.steps(), metrics.lastLoss(), metrics.lastEval(),
                done > 0 ? progress.tokensPerSecond() : Double.NaN, deviceName(device), train.tokenization());
        progress.line(String.format(Locale.ROOT, "done: %d steps, loss %.4f%s at seq-len %d, %.0f tokens/s; model in %s",
                r.steps(), r.finalLoss(), r.evalLoss() == null ? "" : String.format(Locale.ROOT,
                        ", eval loss %.4f", r.evalLoss()), c.seqLen(), r.tokensPerSecond(), out));
        return r;
    }

    /** Mean losses of one optimizer step over its micro-batches, and the expert load. */
    record StepLosses(double loss, double aux, double z, Map<Integer, double[]> load) {
    }

    /**
     * {@code accumulate} micro-batches, each in its own scope, their gradients summed in one
     * collector: the loss of each is {@code (ce + aux + z) / accumulate}.
     */
    /** γ of the attention routers' z-loss: the model config's {@code attention_router_z_loss_coef} (docs/attention-experts.md, "Training the routers"). */
    static double attentionZLoss(CausalLm lm) {
        return lm.config().moa() == null ? 0 : lm.config().moa().attentionRouterZLossCoef();
    }

    static StepLosses forwardBackward(CausalLm lm, Batcher data, TrainConfig c) {
        double ce = 0;
        double aux = 0;
        double z = 0;
        Map<Integer, long[]> load = new TreeMap<>();
        try (GradientCollector collector = Djl.engine().newGradientCollector()) {
            for (int micro = 0; micro < c.accumulate(); micro++) {
                Cancellation.check();
                Batcher.Batch b = data.next(c.batch());
                AuxLosses routing = new AuxLosses(c.auxLoss(), c.zLoss(), attentionZLoss(lm));
                try (NDManager scope = lm.manager().newSubManager()) {
                    NDArray crossEntropy = crossEntropy(lm, scope, b, routing);
                    NDArray total = crossEntropy;
                    if (routing.any()) {
                        total = total.add(routing.loadBalancing()).add(routing.zLoss());
                        aux += routing.loadBalancing().getFloat() / c.accumulate();
                        z += routing.zLoss().getFloat() / c.accumulate();
                    }
                    collector.backward(total.div(scope.create((float) c.accumulate())));
                    ce += crossEntropy.getFloat() / c.accumulate();
                }
                routing.load().forEach((layer, n) -> {
                    long[] sum = load.computeIfAbsent(layer, k -> new long[n.length]);
                    for (int e = 0; e < n.length; e++) {
                        sum[e] += n[e];
                    }
                });
            }
        }
        return new StepLosses(ce, aux, z, fractions(load));
    }

    /** Mean next-token cross-entropy of the batch, {@code [B, T]} inputs against shifted targets. */
    static NDArray crossEntropy(CausalLm lm, NDManager scope, Batcher.Batch b, AuxLosses routing) {
        NDArray inputs = scope.create(b.inputs(), new Shape(b.rows(), b.seqLen()));
        NDArray targets = scope.create(b.targets(), new Shape(b.rows(), b.seqLen(), 1)).toType(DataType.INT64, false);
        NDArray logits = lm.forward(inputs, routing);
        return logits.logSoftmax(2).gather(targets, 2).mean().neg();
    }

    private static Map<Integer, double[]> fractions(Map<Integer, long[]> counts) {
        Map<Integer, double[]> out = new TreeMap<>();
        counts.forEach((layer, n) -> {
            double total = Arrays.stream(n).sum();
            out.put(layer, Arrays.stream(n).mapToDouble(v -> total == 0 ? 0 : v / total).toArray());
        });
        return out;
    }

    private static void requireFinite(int step, double loss, double norm, Path lastCheckpoint) {
        if (Double.isFinite(loss) && Double.isFinite(norm)) {
            return;
        }
        throw new UpcycleException(ErrorKind.NonFiniteLoss, "step " + step, (Double.isFinite(loss)
                ? "gradient norm is " + norm : "loss is " + loss) + "; stopped before the update",
                lastCheckpoint == null ? "no checkpoint was written yet; lower --lr or raise --warmup"
                        : "the last good checkpoint is " + lastCheckpoint + "; lower --lr and --resume from it");
    }

    private static TrainerState resume(TrainConfig c, Map<String, NDArray> params, AdamW optimizer) {
        TrainerState s = TrainerState.read(c.resume());
        if (s.seed() != c.seed()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--seed", "the checkpoint was trained with seed "
                    + s.seed() + ", not " + c.seed(), "pass --seed " + s.seed() + " to continue its data order");
        }
        // A checkpoint at exactly --steps is a run killed before it wrote its final model: resuming it
        // writes the model without further steps. Beyond --steps there is no such run to finish.
        if (s.step() > c.steps()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--steps", "the checkpoint is at step " + s.step()
                    + ", beyond --steps " + c.steps(), "raise --steps to at least " + s.step());
        }
        Checkpointing.restore(c.resume(), params, optimizer, s.step());
        return s;
    }

    /** "cpu", or "gpu 0": DJL's own toString ("cpu()") is not for users. */
    static String deviceName(Device d) {
        return d.isGpu() ? "gpu " + d.getDeviceId() : d.getDeviceType();
    }
}
