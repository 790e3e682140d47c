package dev.upcycle.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * Writes that bypass the page cache ({@code O_DIRECT}) for the bulk of an output file. Written
 * through the page cache, every byte of a multi-GB output costs a kernel copy into fresh
 * page-cache pages (on a virtual machine that returns freed memory to its host, getting those
 * pages costs more than the disk), its later writeback, and the eviction of what the user had
 * cached; written direct from aligned buffers, it costs the disk's time. Where the file system
 * refuses direct I/O (tmpfs on older kernels, some network and FUSE file systems), or
 * {@code UPCYCLE_DIRECT_IO=0} (system property {@code upcycle.directIo=false}) asks for it, the
 * writer goes through the page cache as before.
 */
final class DirectWrites {

    private DirectWrites() {
    }

    /** Whether direct writes are wanted at all. */
    static boolean enabled() {
        String prop = System.getProperty("upcycle.directIo");
        if (prop != null) {
            return !prop.equalsIgnoreCase("false") && !prop.equals("0");
        }
        String env = System.getenv("UPCYCLE_DIRECT_IO");
        return env == null || !(env.equals("0") || env.toLowerCase(Locale.ROOT).equals("false"));
    }

    /**
     * The alignment direct writes to {@code file} need (its file system's block size), or 0 when
     * that is unknown or unusable.
     */
    static int alignment(Path file) {
        try {
            long size = Files.getFileStore(file).getBlockSize();
            return size >= 512 && size <= PipeBuffers.ALIGNMENT && Long.bitCount(size) == 1 ? (int) size : 0;
        } catch (IOException | UnsupportedOperationException e) {
            return 0;
        }
    }

    /**
     * A second, write-only channel on the existing {@code file} that bypasses the page cache, or
     * null where direct I/O is off, unsupported or refused.
     */
    static FileChannel open(Path file) {
        if (!enabled() || alignment(file) == 0) {
            return null;
        }
        try {
            OpenOption direct = com.sun.nio.file.ExtendedOpenOption.DIRECT;
            return FileChannel.open(file, StandardOpenOption.WRITE, direct);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
    }
}
