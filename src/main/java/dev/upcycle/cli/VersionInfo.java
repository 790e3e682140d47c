package dev.upcycle.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** Version of the tool and of the DJL / libtorch it was built against (filled in by Maven). */
public final class VersionInfo implements IVersionProvider {
    private static final Properties PROPS = load();

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = VersionInfo.class.getResourceAsStream("/dev/upcycle/version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read version.properties", e);
        }
        return p;
    }

    public static String version() {
        return PROPS.getProperty("version", "unknown");
    }

    @Override
    public String[] getVersion() {
        return new String[] {
            "upcycle " + version(),
            "DJL " + PROPS.getProperty("djl", "unknown") + ", libtorch " + PROPS.getProperty("libtorch", "unknown"),
            "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"
        };
    }
}
