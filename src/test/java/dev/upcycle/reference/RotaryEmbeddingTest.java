package dev.upcycle.reference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.model.Rope;
import org.junit.jupiter.api.Test;

class RotaryEmbeddingTest {

    private static Rope rope(double theta, String scalingJson) {
        try {
            ObjectNode s = scalingJson == null ? null : (ObjectNode) new ObjectMapper().readTree(scalingJson);
            return Rope.of(theta, s, "test");
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    @Test
    void positionZeroIsTheIdentity() {
        RotaryEmbedding r = new RotaryEmbedding(rope(10000, null), 6);
        double[] v = {0.3, -1.2, 2.5, 7, -0.125, 1e-3};
        double[] w = v.clone();
        r.apply(w, 0, 0);
        assertThat(w).containsExactly(v);
    }

    /** theta 100, hd 4: inv_freq = {1, 0.1}; pairs (0, 2) and (1, 3) turn by p and p/10. */
    @Test
    void positionPRotatesPairsIAndIPlusHalf() {
        RotaryEmbedding r = new RotaryEmbedding(rope(100, null), 4);
        double[] v = {9, 1, 0, 0, 0, 9};
        r.apply(v, 1, 3); // the head starts at offset 1
        assertThat(v).containsExactly(new double[] {9, Math.cos(3), 0, Math.sin(3), 0, 9}, within(1e-15));
        double[] u = {0, 1, 0, 0};
        r.apply(u, 0, 3);
        assertThat(u).containsExactly(new double[] {0, Math.cos(0.3), 0, Math.sin(0.3)}, within(1e-15));
        double[] x = {0, 0, 1, 0};
        r.apply(x, 0, 3);
        assertThat(x).containsExactly(new double[] {-Math.sin(3), 0, Math.cos(3), 0}, within(1e-15));
    }

    @Test
    void linearScalingDividesPositionsByFactor() {
        double[] plain = RotaryEmbedding.inverseFrequencies(rope(10000, null), 8);
        double[] linear = RotaryEmbedding.inverseFrequencies(rope(10000, "{\"rope_type\":\"linear\",\"factor\":4}"), 8);
        for (int i = 0; i < 4; i++) {
            assertThat(linear[i]).isCloseTo(plain[i] / 4, within(1e-18));
        }
    }

    /**
     * theta 1e4, hd 8: inv_freq {1, .1, .01, .001}, wavelengths 2π{1, 10, 100, 1000}. With
     * original 1000, low 1, high 4 (band edges 1000 and 250) and factor 8: the first two are
     * high-frequency (kept), the third is interpolated, the last is divided by 8.
     */
    @Test
    void llama3ScalingByBand() {
        double[] inv = RotaryEmbedding.inverseFrequencies(rope(10000, "{\"rope_type\":\"llama3\",\"factor\":8,"
                + "\"low_freq_factor\":1,\"high_freq_factor\":4,\"original_max_position_embeddings\":1000}"), 8);
        double smooth = (1000 / (2 * Math.PI * 100) - 1) / (4 - 1);
        assertThat(inv[0]).isCloseTo(1, within(1e-15));
        assertThat(inv[1]).isCloseTo(0.1, within(1e-15));
        assertThat(inv[2]).isCloseTo((1 - smooth) * 0.01 / 8 + smooth * 0.01, within(1e-15));
        assertThat(inv[3]).isCloseTo(0.001 / 8, within(1e-15));
    }
}
