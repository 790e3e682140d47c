package dev.upcycle.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The cores' FP32 peak, {@code cores × clock × FLOP per cycle}, read from the machine: what the
 * benches state model FLOP utilisation against. A matmul timed on a shared machine reads low
 * whenever another process holds a core, so it is a poor denominator; the peak does not move.
 *
 * <p>How each factor is found (Linux): physical cores are the distinct (physical id, core id)
 * pairs of {@code /proc/cpuinfo}, at most the processors this JVM may use; the clock is
 * {@code cpuinfo_max_freq} under {@code /sys/devices/system/cpu/cpu0/cpufreq} when the kernel
 * exposes it, else the highest {@code cpu MHz} of {@code /proc/cpuinfo} (virtual machines usually
 * report only the nominal clock, so a core that boosts above it can beat this peak); FLOP per
 * cycle come from the vector flags, see {@link #flopsPerCycle}. {@value #OVERRIDE} (GFLOP/s)
 * replaces the whole computation.
 *
 * @param flops the peak, FLOP/s
 * @param how   how it was found, for the bench's output
 */
public record CpuPeak(double flops, String how) {
    /** Environment variable: the peak in GFLOP/s, replacing what is read from the machine. */
    public static final String OVERRIDE = "UPCYCLE_FP32_PEAK_GFLOPS";

    /** Reads this machine (or {@value #OVERRIDE}). */
    public static CpuPeak probe() {
        String maxKhz = first(Path.of("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"));
        return of(System.getenv(OVERRIDE), String.join("\n", lines(Path.of("/proc/cpuinfo"))), maxKhz,
                Runtime.getRuntime().availableProcessors());
    }

    /**
     * @param override  {@value #OVERRIDE}'s value, or null
     * @param cpuinfo   the text of {@code /proc/cpuinfo} (empty when unreadable)
     * @param maxKhz    {@code cpuinfo_max_freq}, or null
     * @param available processors this JVM may use
     */
    static CpuPeak of(String override, String cpuinfo, String maxKhz, int available) {
        if (override != null && !override.isBlank()) {
            try {
                double g = Double.parseDouble(override.trim());
                if (g > 0 && Double.isFinite(g)) {
                    return new CpuPeak(g * 1e9, "from " + OVERRIDE);
                }
            } catch (NumberFormatException e) {
                // fall through to the machine's figures, saying the override was ignored
            }
            CpuPeak read = of(null, cpuinfo, maxKhz, available);
            return new CpuPeak(read.flops, read.how + "; " + OVERRIDE + "=" + override.trim() + " ignored, not a positive number");
        }
        Set<String> cores = new HashSet<>();
        String physical = "0";
        double mhz = 0;
        String vendor = "";
        int family = -1;
        Set<String> flags = Set.of();
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).trim();
            String value = line.substring(colon + 1).trim();
            switch (key) {
                case "physical id" -> physical = value;
                case "core id" -> cores.add(physical + "/" + value);
                case "cpu MHz" -> mhz = Math.max(mhz, parse(value));
                case "vendor_id" -> vendor = value;
                case "cpu family" -> family = (int) parse(value);
                case "flags" -> flags = Set.of(value.split("\\s+"));
                default -> { }
            }
        }
        int n = cores.isEmpty() ? available : Math.min(cores.size(), available);
        String coresHow = cores.isEmpty() ? "processors the JVM sees" : "physical cores in /proc/cpuinfo";
        double khz = maxKhz == null ? 0 : parse(maxKhz.trim());
        double ghz = khz > 0 ? khz / 1e6 : mhz / 1e3;
        String clockHow = khz > 0 ? "cpufreq cpuinfo_max_freq" : "cpu MHz in /proc/cpuinfo";
        int perCycle = flopsPerCycle(vendor, family, flags);
        String how = String.format(Locale.ROOT, "%d cores (%s) x %.2f GHz (%s) x %d FP32 FLOP/cycle (%s)", n, coresHow,
                ghz, clockHow, perCycle, vectorHow(vendor, family, flags));
        return new CpuPeak(n * ghz * 1e9 * perCycle, how);
    }

    /**
     * FP32 FLOP per cycle and core from the vector flags, assuming two FMA pipes (an FMA counts
     * two FLOP): AVX-512 on Intel, or on AMD from Zen 5 (family 26), is 2 × 16 lanes × 2 = 64; AMD's
     * Zen 4 (family 25) runs AVX-512 on two 256-bit pipes, as AVX2 with FMA does anywhere:
     * 2 × 8 × 2 = 32; AVX without FMA is 16 (a multiply and an add pipe of 8 lanes); else SSE, 8.
     * Intel parts with a single AVX-512 FMA unit reach 32: set {@value #OVERRIDE} there.
     */
    static int flopsPerCycle(String vendor, int family, Set<String> flags) {
        boolean amd = vendor.equals("AuthenticAMD");
        if (flags.contains("avx512f") && (!amd || family >= 26)) {
            return 64;
        }
        if (flags.contains("fma") && flags.contains("avx2")) {
            return 32;
        }
        return flags.contains("avx") ? 16 : 8;
    }

    private static String vectorHow(String vendor, int family, Set<String> flags) {
        int f = flopsPerCycle(vendor, family, flags);
        boolean avx512 = flags.contains("avx512f");
        if (f == 64) {
            return "avx512f: two 512-bit FMA pipes";
        }
        if (f == 32) {
            return avx512 ? "avx512f on AMD family " + family + ": two 256-bit FMA pipes" : "avx2 and fma: two 256-bit FMA pipes";
        }
        return f == 16 ? "avx without fma" : "no avx flag: SSE";
    }

    /** This peak's share of {@code achieved} FLOP/s, in percent. */
    public double percent(double achieved) {
        return 100 * achieved / flops;
    }

    private static double parse(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String first(Path f) {
        List<String> l = lines(f);
        return l.isEmpty() ? null : l.get(0);
    }

    private static List<String> lines(Path f) {
        try {
            return Files.readAllLines(f);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
