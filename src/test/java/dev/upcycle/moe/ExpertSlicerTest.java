package dev.upcycle.moe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * Row and column slicing with one rounding (docs/method.md, "Fine-grained experts"; docs/formats.md,
 * "Dtypes").
 */
class ExpertSlicerTest {
    // [3, 4] row-major: value = 10 * row + col
    private static final float[] M = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23};

    @Test
    void rowsAreContiguous() {
        assertThat(ExpertSlicer.sliceRows(M, 3, 4, 1, 3, 1)).containsExactly(10, 11, 12, 13, 20, 21, 22, 23);
        assertThat(ExpertSlicer.sliceRows(M, 3, 4, 0, 1, 2)).containsExactly(0, 2, 4, 6);
    }

    @Test
    void columnsAreAStridedGather() {
        assertThat(ExpertSlicer.sliceColumns(M, 3, 4, 1, 3, 1)).containsExactly(1, 2, 11, 12, 21, 22);
        assertThat(ExpertSlicer.sliceColumns(M, 3, 4, 3, 4, 0.5)).containsExactly(1.5f, 6.5f, 11.5f);
    }

    @Test
    void zeroFactorWritesPositiveZeros() {
        float[] neg = {-1, -2, -3, -4};
        float[] out = ExpertSlicer.sliceColumns(neg, 2, 2, 0, 2, 0);
        for (float v : out) {
            assertThat(Float.floatToRawIntBits(v)).isZero();
        }
    }

    @Test
    void scalingRoundsOnceFromDouble() {
        float v = 0.1f;
        double c = StrictMath.cbrt(4);
        assertThat(ExpertSlicer.scaleOnce(v, c)).isEqualTo((float) ((double) v * c));
        assertThat(ExpertSlicer.sliceVector(null, 0, 0, 2)).isNull();
    }

    @Test
    void badRangesAreRejected() {
        assertThatThrownBy(() -> ExpertSlicer.sliceRows(M, 3, 4, 2, 4, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ExpertSlicer.sliceColumns(M, 4, 4, 0, 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FusedGateUp.unfuse(M, 2, 4)).isInstanceOf(IllegalArgumentException.class);
    }
}
