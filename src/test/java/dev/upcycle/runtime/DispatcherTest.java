package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Router → dispatch → experts → combine on hand-made numbers. */
class DispatcherTest {

    @Test
    void groupsSlotsPerExpertAndInvertsTheOrder() {
        // 3 tokens, k = 2: token 0 -> {2, 0}, token 1 -> {0, 3}, token 2 -> {2, 3}
        long[] selected = {2, 0, 0, 3, 2, 3};
        Dispatch d = Dispatcher.group(selected, 5, 2);
        assertThat(d.tokens(0)).containsExactly(0, 1);
        assertThat(d.tokens(1)).isEmpty();
        assertThat(d.tokens(2)).containsExactly(0, 2);
        assertThat(d.tokens(3)).containsExactly(1, 2);
        assertThat(d.count(4)).isZero();
        // expert order: expert 0's slots (token 0, token 1), then expert 2's, then expert 3's
        assertThat(d.tokensInOrder()).containsExactly(0, 1, 0, 2, 1, 2);
        assertThat(d.slotsInOrder()).containsExactly(1, 2, 0, 4, 3, 5);
        for (int s = 0; s < selected.length; s++) {
            assertThat(d.order()[d.inverse()[s]]).isEqualTo(s);
        }
    }

    @Test
    void onlyExpertsWithTokensAreLoadedAndOutputsAreWeighted() {
        Djl.offline();
        try (NDManager m = Djl.newManager()) {
            int d = 2;
            // Expert e: gate = up = 100·I, down = (e+1)/100·I, so it computes (e+1)·silu(100x)·x;
            // the source records which experts were loaded.
            List<Integer> loaded = new ArrayList<>();
            ExpertSource source = new ExpertSource() {
                @Override
                public int count() {
                    return 4;
                }

                @Override
                public Mlp expert(int e, NDManager scope) {
                    loaded.add(e);
                    NDArray big = scope.create(new float[] {100, 0, 0, 100}, new Shape(2, 2));
                    NDArray down = scope.create(new float[] {e + 1, 0, 0, e + 1}, new Shape(2, 2)).div(100);
                    return Mlp.of(big, big, down);
                }
            };
            NDArray x = m.create(new float[] {1, 1, 0.5f, 0.5f}, new Shape(2, d));
            NDArray gate = m.create(new float[] {0, 0, 1, 1, 2, 2, -5, -5}, new Shape(4, d));
            Routing r = new Router(2, true).route(x, gate);
            assertThat(r.selected()).containsExactly(2, 1, 2, 1);
            Dispatch dispatch = Dispatcher.group(r.selected(), 4, 2);
            NDArray outputs = Experts.compute(x, r, dispatch, source);
            assertThat(loaded).containsExactly(1, 2);
            assertThat(outputs.getShape()).isEqualTo(new Shape(4, d));
            float[] y = Dispatcher.combine(dispatch, outputs, 2, d).toFloatArray();
            float[] w = r.weights().toFloatArray();
            for (int t = 0; t < 2; t++) {
                float xv = t == 0 ? 1 : 0.5f;
                double mlp = 100 * xv * xv * (1 / (1 + Math.exp(-100 * xv)));
                double expected = w[2 * t] * 3 * mlp + w[2 * t + 1] * 2 * mlp;
                assertThat((double) y[2 * t]).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-4 * expected));
            }
            assertThat(w[0] + w[1]).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));
        }
    }
}
