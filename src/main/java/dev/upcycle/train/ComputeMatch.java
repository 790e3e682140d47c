package dev.upcycle.train;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.MoaAccounting;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Compute-matched training (docs/attention-experts.md, "BAM's comparisons", "CM"): the number of steps
 * that gives a model the training compute of {@code steps} steps of a reference model, at the same
 * batch and sequence length. Compute is the forward FLOPs per token of the decoder layers
 * (docs/attention-experts.md, "Parameters, active parameters and FLOPs"), so the ratio is exact for the
 * usual 3x forward estimate of forward plus backward.
 */
public final class ComputeMatch {
    private ComputeMatch() {
    }

    /**
     * @param steps     steps the reference model would train
     * @param model     the model that trains
     * @param reference the model whose compute is matched
     * @param seqLen    tokens per sequence (the attention-score FLOPs grow with it)
     * @return {@code round(steps x F(reference) / F(model))}, at least 1
     */
    public static int steps(int steps, ModelConfig model, ModelConfig reference, long seqLen) {
        double ours = MoaAccounting.forwardFlops(model, seqLen);
        double theirs = MoaAccounting.forwardFlops(reference, seqLen);
        return (int) Math.max(1, Math.round(steps * theirs / ours));
    }

    /** As {@link #steps(int, ModelConfig, ModelConfig, long)} for two checkpoint directories. */
    public static int steps(int steps, Path model, Path reference, long seqLen) {
        return steps(steps, config(model, "model"), config(reference, "--compute-of"), seqLen);
    }

    private static ModelConfig config(Path dir, String what) {
        Optional<Path> config = Files.isDirectory(dir) ? ModelFiles.of(dir).optional("config.json") : Optional.empty();
        Path file = config.orElseThrow(() -> new UpcycleException(ErrorKind.NoCheckpoint, dir.toString(),
                what + " has no config.json", "give a checkpoint directory"));
        return ModelConfig.read(file, FamilyRegistry.builtIn());
    }
}
