package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The bench never prints an MFU above 100 % without saying why. */
class TrainBenchTest {

    @Test
    void anMfuAboveOneHundredPercentComesWithItsReason() {
        assertThat(TrainBench.mfuLine("of the measured matmul ceiling", 61.25, 75.0, TrainBench.ABOVE_CEILING))
                .isEqualTo("MFU of the measured matmul ceiling: moe 61.3%, dense 75.0%");
        assertThat(TrainBench.mfuLine("of the measured matmul ceiling", 98.0, 131.0, TrainBench.ABOVE_CEILING))
                .isEqualTo("MFU of the measured matmul ceiling: moe 98.0%, dense 131.0% (above 100 %: "
                        + TrainBench.ABOVE_CEILING + ")");
        assertThat(TrainBench.mfuLine("of the cores' FP32 peak", 101.0, 90.0, TrainBench.ABOVE_PEAK))
                .endsWith("(above 100 %: " + TrainBench.ABOVE_PEAK + ")")
                .contains("UPCYCLE_FP32_PEAK_GFLOPS");
    }
}
