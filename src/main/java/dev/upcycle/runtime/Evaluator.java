package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.error.Cancellation;

/**
 * Mean next-token loss over a token sequence: it is cut into windows of {@code seqLen} inputs,
 * each followed by its targets (consecutive windows share one token, so every token but the
 * first is predicted exactly once, from at most {@code seqLen} tokens of context); windows run
 * in batches, each inside its own scope.
 */
public final class Evaluator {
    /** Tokens per batch (windows × length) aimed at. */
    static final int BATCH_TOKENS = 4096;

    private Evaluator() {
    }

    /**
     * Loss of the predictions.
     *
     * @param tokens  predicted tokens {@code tokens.length - 1}
     * @param loss    mean negative log-likelihood in nats
     * @param windows windows evaluated
     */
    public record Result(long tokens, double loss, int windows, int seqLen) {
        public double perplexity() {
            return Math.exp(loss);
        }
    }

    public static Result evaluate(CausalLm lm, int[] tokens, int seqLen) {
        if (tokens.length < 2) {
            throw new IllegalArgumentException("need at least 2 tokens, got " + tokens.length);
        }
        int vocab = lm.config().vocabSize();
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new IllegalArgumentException("token " + tokens[i] + " at position " + i
                        + " is outside the model's vocabulary of " + vocab);
            }
        }
        int predicted = tokens.length - 1;
        int full = predicted / seqLen;
        int rest = predicted % seqLen;
        int perBatch = Math.max(1, BATCH_TOKENS / seqLen);
        double nll = 0;
        for (int w = 0; w < full; w += perBatch) {
            Cancellation.check();
            int batch = Math.min(perBatch, full - w);
            nll += batchNll(lm, tokens, w * seqLen, batch, seqLen);
        }
        if (rest > 0) {
            nll += batchNll(lm, tokens, full * seqLen, 1, rest);
        }
        return new Result(predicted, nll / predicted, full + (rest > 0 ? 1 : 0), seqLen);
    }

    /** Summed NLL of {@code batch} consecutive windows of {@code len} inputs starting at {@code start}. */
    private static double batchNll(CausalLm lm, int[] tokens, int start, int batch, int len) {
        int[] in = new int[batch * len];
        int[] target = new int[batch * len];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(tokens, start + b * len, in, b * len, len);
            System.arraycopy(tokens, start + b * len + 1, target, b * len, len);
        }
        try (NDManager scope = lm.manager().newSubManager()) {
            NDArray logits = lm.forward(scope.create(in, new Shape(batch, len)));
            NDArray targets = scope.create(target, new Shape(batch, len, 1)).toType(ai.djl.ndarray.types.DataType.INT64, false);
            float[] logp = logits.logSoftmax(2).gather(targets, 2).toFloatArray();
            double sum = 0;
            for (float v : logp) {
                sum -= v;
            }
            return sum;
        }
    }
}
