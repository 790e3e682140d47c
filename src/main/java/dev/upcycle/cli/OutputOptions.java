package dev.upcycle.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Options shared by every command that writes an output directory. */
final class OutputOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR",
            description = "Output directory; written under a temporary name and renamed when complete.")
    Path dir;

    @Option(names = "--force", description = "Replace an existing output directory written by upcycle.")
    boolean force;

    @Option(names = {"-q", "--quiet"}, description = "Print nothing on success.")
    boolean quiet;

    Path dir() {
        return dir;
    }

    boolean force() {
        return force;
    }

    boolean quiet() {
        return quiet;
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
