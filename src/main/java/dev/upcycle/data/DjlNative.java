package dev.upcycle.data;

import ai.djl.engine.EngineException;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * What every DJL native library (the PyTorch engine, the tokenizers) needs before it loads: no
 * network, no tracking, and a one-line error when its cache directory cannot take the unpacked
 * library. Kept here, below {@code runtime}, because the tokenizers load without the engine.
 */
public final class DjlNative {
    private DjlNative() {
    }

    /**
     * Sets {@code ai.djl.offline} and {@code OPT_OUT_TRACKING} unless the user has (docs/design.md,
     * "Working with DJL": without OPT_OUT_TRACKING the engine waits on a metadata address at
     * start-up). Idempotent; call before any DJL class that reads them is loaded.
     */
    public static void offline() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("OPT_OUT_TRACKING", "true");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) {
            System.setProperty(key, value);
        }
    }

    /**
     * An {@link ErrorKind#IoError} naming DJL's cache directory when {@code e} is DJL failing to
     * unpack a native library there (unwritable, not a directory, disk full); null otherwise.
     *
     * @param library what was being unpacked, for the message
     */
    public static UpcycleException unpackFailure(Throwable e, String library) {
        IOException io = null;
        boolean engine = false;
        for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
            engine |= t instanceof EngineException || String.valueOf(t.getMessage()).contains("native library");
            if (io == null && t instanceof IOException i) {
                io = i;
            }
        }
        if (!engine || io == null) {
            return null;
        }
        String where = io instanceof FileSystemException f && f.getFile() != null ? f.getFile() : cacheDir().toString();
        String why = io instanceof FileSystemException f && f.getReason() != null ? f.getReason()
                : io.getClass().getSimpleName() + (io.getMessage() == null ? "" : ": " + io.getMessage());
        return new UpcycleException(ErrorKind.IoError, where, "cannot unpack the " + library
                + " native library into DJL's cache directory " + cacheDir() + ": " + why,
                "set DJL_CACHE_DIR to a writable directory with about 500 MB free", e);
    }

    /** Where DJL unpacks its native libraries: {@code DJL_CACHE_DIR}, else {@code ~/.djl.ai}. */
    public static Path cacheDir() {
        return ai.djl.util.Utils.getCacheDir();
    }
}
