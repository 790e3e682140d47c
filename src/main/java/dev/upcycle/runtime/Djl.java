package dev.upcycle.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

/**
 * Starts DJL's PyTorch engine without the network. The offline and tracking properties are set
 * in this class's static initialiser, before any DJL class that reads them is loaded, and only
 * when the user has not set them (djl-notes.md: without OPT_OUT_TRACKING the engine waits on a
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

    /** A root manager on the CPU; close it to free every array made under it. */
    public static NDManager newManager() {
        return newManager(Device.cpu());
    }

    /** A root manager on {@code device}. */
    public static NDManager newManager(Device device) {
        return NDManager.newBaseManager(device, ENGINE);
    }

    /** The engine's version (the libtorch version), starting the engine if needed. */
    public static String engineVersion() {
        return Engine.getEngine(ENGINE).getVersion();
    }
}
