package dev.upcycle.cli;

import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.train.Report;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code upcycle report}: a Markdown table comparing train runs, with their plots. */
@Command(name = "report", sortOptions = false, mixinStandardHelpOptions = true,
        description = "Compares train runs (their output directories) in one Markdown file: steps, tokens, train "
                + "loss, eval loss, tokens/s, and links to each run's loss and expert-load plots.",
        footerHeading = "%nExample:%n",
        footer = "  upcycle report build/quickstart/moe-trained build/quickstart/dense-trained -o build/quickstart/report.md")
final class ReportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0..*", arity = "1..*", paramLabel = "RUNS", description = "Output directories of upcycle train.")
    List<Path> runs;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "The Markdown file to write.")
    Path output;

    @Override
    public Integer call() {
        List<Report.Row> rows = runs.stream().map(Report::read).toList();
        String md = Report.markdown(rows, output);
        Path parent = output.toAbsolutePath().getParent();
        try {
            Files.createDirectories(parent);
        } catch (java.io.IOException e) {
            throw new dev.upcycle.error.UpcycleException(dev.upcycle.error.ErrorKind.IoError, parent.toString(),
                    "cannot create directory: " + e.getMessage());
        }
        CheckpointWriter.writeAtomically(output.toAbsolutePath(), md.getBytes(StandardCharsets.UTF_8));
        spec.commandLine().getOut().print(md);
        return 0;
    }
}
