package dev.upcycle.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * Writes the CLI reference, one AsciiDoc man page per command, from the command tree the tool runs
 * with, by picocli's own generator. {@code scripts/cli-reference} runs it into docs/cli;
 * CliReferenceTest checks that the committed pages are what it writes today.
 */
public final class CliReference {
    private CliReference() {
    }

    /** Writes {@code upcycle.adoc} and one {@code upcycle-COMMAND.adoc} per command into {@code dir}. */
    public static void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        int code = ManPageGenerator.generateManPage(dir.toFile(), null, new boolean[0], true,
                Main.commandLine().getCommandSpec());
        if (code != 0) {
            throw new IOException("picocli's ManPageGenerator failed with exit code " + code);
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: CliReference DIR");
            System.exit(2);
        }
        write(Path.of(args[0]));
    }
}
