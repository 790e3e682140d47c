package dev.upcycle.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What this process can still get: native memory (physical memory the kernel reports available,
 * bounded by the cgroup's limit when the process runs under one) and the Java heap's headroom.
 *
 * @param nativeBytes memory available to libtorch's allocations
 * @param heapBytes   the heap's maximum less what is in use now
 * @param source      where the native figure comes from, for the message
 */
public record MemoryAvailable(long nativeBytes, long heapBytes, String source) {

    /** Reads /proc/meminfo and the cgroup (v2, then v1) files; an unreadable source is ignored. */
    public static MemoryAvailable probe() {
        Runtime rt = Runtime.getRuntime();
        long heap = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        long nat = Long.MAX_VALUE;
        String source = "unknown (no /proc/meminfo)";
        Optional<Long> meminfo = memAvailable(Path.of("/proc/meminfo"));
        if (meminfo.isPresent()) {
            nat = meminfo.get();
            source = "MemAvailable";
        }
        Optional<Long> cgroup = cgroupHeadroom(Path.of("/sys/fs/cgroup"));
        if (cgroup.isPresent() && cgroup.get() < nat) {
            nat = cgroup.get();
            source = "cgroup memory limit";
        }
        return new MemoryAvailable(nat, heap, source);
    }

    /** {@code MemAvailable} of a meminfo file, in bytes. */
    static Optional<Long> memAvailable(Path meminfo) {
        for (String line : lines(meminfo)) {
            if (line.startsWith("MemAvailable:")) {
                String[] f = line.trim().split("\\s+");
                return parse(f[1]).map(kb -> kb * 1024);
            }
        }
        return Optional.empty();
    }

    /** The cgroup's limit less its usage: v2 {@code memory.max}/{@code memory.current}, else v1. */
    static Optional<Long> cgroupHeadroom(Path root) {
        Optional<Long> v2 = headroom(root.resolve("memory.max"), root.resolve("memory.current"));
        return v2.isPresent() ? v2 : headroom(root.resolve("memory/memory.limit_in_bytes"),
                root.resolve("memory/memory.usage_in_bytes"));
    }

    private static Optional<Long> headroom(Path limitFile, Path usageFile) {
        Optional<Long> limit = first(limitFile).flatMap(MemoryAvailable::parse);
        // "max" (v2) or a huge number (v1, about 2^63 rounded to pages) means no limit.
        if (limit.isEmpty() || limit.get() >= (1L << 60)) {
            return Optional.empty();
        }
        long used = first(usageFile).flatMap(MemoryAvailable::parse).orElse(0L);
        return Optional.of(Math.max(0, limit.get() - used));
    }

    private static Optional<String> first(Path f) {
        List<String> l = lines(f);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0).trim());
    }

    private static List<String> lines(Path f) {
        try {
            return Files.readAllLines(f);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }

    private static Optional<Long> parse(String s) {
        try {
            return Optional.of(Long.parseLong(s));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
