package dev.upcycle.cli;

import dev.upcycle.io.HubCache;
import java.nio.file.Path;
import java.util.List;

/**
 * Model arguments of every command: a directory, or a model id ({@code ORG/NAME[@REVISION]})
 * looked up offline in the Hugging Face cache that the process environment names. Resolved when
 * the command runs, not when it is parsed, so a recipe may name a directory an earlier step writes.
 */
final class ModelArgs {
    private ModelArgs() {
    }

    /** The directory to read for {@code given}; null stays null. */
    static Path dir(Path given) {
        return HubCache.modelPath(given, System.getenv(), Path.of(System.getProperty("user.home")));
    }

    static List<Path> dirs(List<Path> given) {
        return given.stream().map(ModelArgs::dir).toList();
    }
}
