package dev.upcycle.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * Starts DJL's PyTorch engine without the network. The offline and tracking properties are set
 * in this class's static initialiser, before any DJL class that reads them is loaded, and only
 * when the user has not set them (docs/design.md, "Working with DJL": without OPT_OUT_TRACKING the engine waits on a
 * metadata address at start-up).
 */
public final class Djl {
    public static final String ENGINE = "PyTorch";

    static {
        offline();
    }

    private Djl() {
    }

    /** Sets {@code ai.djl.offline} and {@code OPT_OUT_TRACKING} unless already set. Idempotent. */
    public static void offline() {
        setIfAbsent("ai.djl.offline", "true");
        setIfAbsent("OPT_OUT_TRACKING", "true");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** The engine, started on first use; a cache it cannot unpack into is an environment failure. */
    public static Engine engine() {
        try {
            return Engine.getEngine(ENGINE);
        } catch (RuntimeException | LinkageError e) {
            UpcycleException u = nativeLibraryFailure(e, "PyTorch");
            if (u != null) {
                throw u;
            }
            throw e;
        }
    }

    /** A root manager on the CPU; close it to free every array made under it. */
    public static NDManager newManager() {
        return newManager(Device.cpu());
    }

    /** A root manager on {@code device}. */
    public static NDManager newManager(Device device) {
        return engine().newBaseManager(device);
    }

    /** The engine's version (the libtorch version), starting the engine if needed. */
    public static String engineVersion() {
        return engine().getVersion();
    }

    /**
     * An {@link ErrorKind#IoError} naming DJL's cache directory when {@code e} is DJL failing to
     * unpack a native library there (unwritable, not a directory, disk full); null otherwise.
     *
     * @param library what was being unpacked, for the message
     */
    static UpcycleException nativeLibraryFailure(Throwable e, String library) {
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
    static Path cacheDir() {
        return ai.djl.util.Utils.getCacheDir();
    }
}
