package dev.upcycle.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.upcycle.data.DjlNative;
import dev.upcycle.error.UpcycleException;

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

    /** Sets DJL's offline and tracking properties unless already set ({@link DjlNative#offline}). */
    public static void offline() {
        DjlNative.offline();
    }

    /** The engine, started on first use; a cache it cannot unpack into is an environment failure. */
    public static Engine engine() {
        try {
            return Engine.getEngine(ENGINE);
        } catch (RuntimeException | LinkageError e) {
            UpcycleException u = DjlNative.unpackFailure(e, "PyTorch");
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
}
