package dev.upcycle.io;

import java.io.IOException;
import java.nio.file.Path;

/** Lets tests in other packages delete a directory tree the way OutputDirectory does. */
public final class OutputDirectoryTestAccess {
    private OutputDirectoryTestAccess() {
    }

    public static void deleteTree(Path root) throws IOException {
        OutputDirectory.deleteTree(root);
    }
}
