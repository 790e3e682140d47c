package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.error.Cancellation;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.TensorRole;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Next-token NLL of final hidden states without {@code tokens × vocab} logits: the output head
 * is read in blocks of rows, and each block's logits (one micro-batch at a time) update a running
 * log-sum-exp per token and give the target's logit when the target falls in the block. No
 * log-softmax copy is made; per block the logits and their exponentials exist once.
 */
final class ChunkedLoss {
    private ChunkedLoss() {
    }

    /**
     * @param hidden  final hidden states {@code [B, T, d]} per micro-batch, closed here as they are normed
     * @param targets the next token of each position, per micro-batch
     * @return the summed NLL in nats
     */
    static double nll(WeightSource source, NDManager manager, List<NDArray> hidden, List<int[]> targets, int vocabBlock) {
        ModelConfig c = source.config();
        int d = c.hiddenSize();
        int vocab = c.vocabSize();
        TensorRole head = source.has(TensorRole.LM_HEAD, -1, -1) ? TensorRole.LM_HEAD : TensorRole.EMBED;
        try (NDManager scope = manager.newSubManager()) {
            NDArray norm = source.array(scope, TensorRole.FINAL_NORM, -1, -1);
            List<NDArray> normed = new ArrayList<>();
            List<double[]> lse = new ArrayList<>();
            List<float[]> picked = new ArrayList<>();
            for (int i = 0; i < hidden.size(); i++) {
                try (NDManager step = scope.newSubManager()) {
                    NDArray h = hidden.get(i);
                    h.attach(step); // freed with the norm's temporaries
                    NDArray x = RmsNorm.apply(h.reshape(-1, d), norm, c.rmsNormEps());
                    x.attach(scope);
                    normed.add(x);
                }
                double[] l = new double[targets.get(i).length];
                Arrays.fill(l, Double.NEGATIVE_INFINITY);
                lse.add(l);
                picked.add(new float[l.length]);
            }
            for (int first = 0; first < vocab; first += vocabBlock) {
                Cancellation.check(); // a signal stops eval between blocks of the output head
                int rows = Math.min(vocabBlock, vocab - first);
                try (NDManager block = scope.newSubManager()) {
                    NDArray wt = block.create(source.rows(head, -1, -1, first, rows), new Shape(rows, d)).transpose();
                    for (int i = 0; i < normed.size(); i++) {
                        try (NDManager part = block.newSubManager()) {
                            NDArray x = normed.get(i);
                            x.tempAttach(part); // the logits and their temporaries go with the part
                            update(x.matMul(wt), first, targets.get(i), lse.get(i), picked.get(i));
                        }
                    }
                }
            }
            double sum = 0;
            for (int i = 0; i < lse.size(); i++) {
                for (int j = 0; j < lse.get(i).length; j++) {
                    sum += lse.get(i)[j] - picked.get(i)[j];
                }
            }
            return sum;
        }
    }

    /** Folds one block's logits {@code [n, rows]} (vocabulary ids from {@code first}) into the running values. */
    private static void update(NDArray logits, int first, int[] targets, double[] lse, float[] picked) {
        int rows = (int) logits.getShape().get(1);
        int n = targets.length;
        int inBlock = 0;
        for (int t : targets) {
            if (t >= first && t < first + rows) {
                inBlock++;
            }
        }
        if (inBlock > 0) {
            long[] flat = new long[inBlock];
            int k = 0;
            for (int j = 0; j < n; j++) {
                if (targets[j] >= first && targets[j] < first + rows) {
                    flat[k++] = (long) j * rows + (targets[j] - first);
                }
            }
            float[] values = logits.reshape(-1).get(logits.getManager().create(flat)).toFloatArray();
            k = 0;
            for (int j = 0; j < n; j++) {
                if (targets[j] >= first && targets[j] < first + rows) {
                    picked[j] = values[k++];
                }
            }
        }
        NDArray max = logits.max(new int[] {1}, true);
        float[] m = max.toFloatArray();
        float[] s = logits.subi(max).exp().sum(new int[] {1}).toFloatArray();
        for (int j = 0; j < n; j++) {
            double blockLse = m[j] + Math.log(s[j]);
            double a = Math.max(lse[j], blockLse);
            lse[j] = a + Math.log(Math.exp(lse[j] - a) + Math.exp(blockLse - a));
        }
    }
}
