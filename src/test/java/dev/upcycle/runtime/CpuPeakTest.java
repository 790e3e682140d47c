package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** The cores' FP32 peak from /proc/cpuinfo text, the cpufreq clock and the override. */
class CpuPeakTest {

    /** Two processors of this project's development machine (AMD EPYC, Zen 4, a KVM guest). */
    private static final String EPYC = processor(0, "AuthenticAMD", 25, 0, "2596.128", "fma avx2 avx512f avx512bw")
            + processor(1, "AuthenticAMD", 25, 1, "2596.128", "fma avx2 avx512f avx512bw");

    private static String processor(int n, String vendor, int family, int core, String mhz, String flags) {
        return "processor\t: " + n + "\nvendor_id\t: " + vendor + "\ncpu family\t: " + family
                + "\nmodel name\t: some cpu\ncpu MHz\t\t: " + mhz + "\nphysical id\t: 0\ncore id\t\t: " + core
                + "\nflags\t\t: fpu sse sse2 avx " + flags + "\n\n";
    }

    @Test
    void zen4RunsAvx512OnTwo256BitPipes() {
        CpuPeak p = CpuPeak.of(null, EPYC, null, 2);
        // 2 cores x 2.596128 GHz x 32
        assertThat(p.flops()).isCloseTo(2 * 2.596128e9 * 32, offset(1.0));
        assertThat(p.how()).contains("2 cores (physical cores in /proc/cpuinfo)", "2.60 GHz (cpu MHz in /proc/cpuinfo)",
                "32 FP32 FLOP/cycle", "AMD family 25");
    }

    @Test
    void cpufreqMaximumWinsOverTheReportedClock() {
        CpuPeak p = CpuPeak.of(null, EPYC, "3700000\n", 2);
        assertThat(p.flops()).isCloseTo(2 * 3.7e9 * 32, offset(1.0));
        assertThat(p.how()).contains("3.70 GHz (cpufreq cpuinfo_max_freq)");
    }

    @Test
    void hyperthreadsCountOnceAndTheJvmsShareBoundsTheCores() {
        // four logical processors on two cores: two cores
        String smt = processor(0, "GenuineIntel", 6, 0, "2000.0", "fma avx2")
                + processor(1, "GenuineIntel", 6, 1, "2000.0", "fma avx2")
                + processor(2, "GenuineIntel", 6, 0, "2000.0", "fma avx2")
                + processor(3, "GenuineIntel", 6, 1, "2000.0", "fma avx2");
        assertThat(CpuPeak.of(null, smt, null, 4).flops()).isCloseTo(2 * 2e9 * 32, offset(1.0));
        // a JVM limited to one processor gets one core's peak
        assertThat(CpuPeak.of(null, smt, null, 1).flops()).isCloseTo(1 * 2e9 * 32, offset(1.0));
    }

    @Test
    void flopsPerCycleFollowTheVectorFlags() {
        assertThat(CpuPeak.flopsPerCycle("GenuineIntel", 6, Set.of("avx", "avx2", "fma", "avx512f"))).isEqualTo(64);
        assertThat(CpuPeak.flopsPerCycle("AuthenticAMD", 26, Set.of("avx", "avx2", "fma", "avx512f"))).isEqualTo(64);
        assertThat(CpuPeak.flopsPerCycle("AuthenticAMD", 25, Set.of("avx", "avx2", "fma", "avx512f"))).isEqualTo(32);
        assertThat(CpuPeak.flopsPerCycle("GenuineIntel", 6, Set.of("avx", "avx2", "fma"))).isEqualTo(32);
        assertThat(CpuPeak.flopsPerCycle("GenuineIntel", 6, Set.of("avx"))).isEqualTo(16);
        assertThat(CpuPeak.flopsPerCycle("GenuineIntel", 6, Set.of("sse2"))).isEqualTo(8);
    }

    @Test
    void theOverrideReplacesTheComputationAndABadOneIsIgnoredAloud() {
        CpuPeak set = CpuPeak.of("150.5", EPYC, null, 2);
        assertThat(set.flops()).isEqualTo(150.5e9);
        assertThat(set.how()).isEqualTo("from " + CpuPeak.OVERRIDE);
        CpuPeak bad = CpuPeak.of("fast", EPYC, null, 2);
        assertThat(bad.flops()).isCloseTo(2 * 2.596128e9 * 32, offset(1.0));
        assertThat(bad.how()).endsWith(CpuPeak.OVERRIDE + "=fast ignored, not a positive number");
    }

    @Test
    void withoutCpuinfoTheJvmsProcessorsCount() {
        CpuPeak p = CpuPeak.of(null, "", "2000000", 3);
        assertThat(p.flops()).isCloseTo(3 * 2e9 * 8, offset(1.0));
        assertThat(p.how()).contains("3 cores (processors the JVM sees)", "no avx flag");
        assertThat(p.percent(p.flops() / 4)).isEqualTo(25.0);
    }
}
