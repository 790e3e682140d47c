package dev.upcycle.runtime;

import static dev.upcycle.testing.BitEquality.assertBitEqual;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Ops#rows}, the gather of the embedding and of the MoE's tokens: the values of indexing,
 * and a gradient that is each row's contributions added in index order, the same in every run.
 * A byte-level model's embedding rows are gathered dozens of times a batch; with the gather by
 * advanced indexing, whose gradient adds with atomics on every core, two identical training runs
 * gave different weights.
 */
class RowGatherTest {
    private static final int ROWS = 256;
    private static final int WIDTH = 64;
    private static final int GATHERED = 8192;

    @Test
    void gradientIsTheSameInEveryRun() {
        Data d = new Data(7);
        float[] first = gradient(d);
        for (int run = 0; run < 5; run++) {
            assertBitEqual(gradient(d), first, "run " + (run + 2));
        }
    }

    @Test
    void gradientAddsEachRowsContributionsInIndexOrder() {
        Data d = new Data(11);
        float[] expected = new float[ROWS * WIDTH];
        for (int i = 0; i < GATHERED; i++) {
            int k = (int) d.indices[i];
            for (int j = 0; j < WIDTH; j++) {
                expected[k * WIDTH + j] += d.upstream[i * WIDTH + j];
            }
        }
        assertBitEqual(gradient(d), expected, "the sum in index order");
    }

    @Test
    void valuesAreThoseOfIndexing() {
        Data d = new Data(3);
        try (NDManager m = Djl.newManager(Device.cpu())) {
            NDArray table = m.create(d.table, new Shape(ROWS, WIDTH));
            NDArray idx = m.create(d.indices);
            assertBitEqual(Ops.rows(table, idx).toFloatArray(), table.get(idx).toFloatArray(), "indexing");
            assertThat(Ops.rows(table, idx.reshape(128, GATHERED / 128)).getShape())
                    .isEqualTo(new Shape(128, GATHERED / 128, WIDTH));
        }
    }

    /** d(sum(rows * upstream)) / d(table). */
    private static float[] gradient(Data d) {
        try (NDManager m = Djl.newManager(Device.cpu())) {
            NDArray table = m.create(d.table, new Shape(ROWS, WIDTH));
            table.setRequiresGradient(true);
            try (GradientCollector c = Djl.engine().newGradientCollector()) {
                NDArray rows = Ops.rows(table, m.create(d.indices));
                c.backward(rows.mul(m.create(d.upstream, new Shape(GATHERED, WIDTH))).sum());
            }
            return table.getGradient().toFloatArray();
        }
    }

    private static final class Data {
        final float[] table = new float[ROWS * WIDTH];
        final long[] indices = new long[GATHERED];
        final float[] upstream = new float[GATHERED * WIDTH];

        Data(long seed) {
            Random r = new Random(seed);
            for (int i = 0; i < table.length; i++) {
                table[i] = (float) r.nextGaussian();
            }
            for (int i = 0; i < indices.length; i++) {
                indices[i] = r.nextInt(ROWS);
            }
            for (int i = 0; i < upstream.length; i++) {
                upstream[i] = (float) r.nextGaussian();
            }
        }
    }
}
