package dev.upcycle.cli;

import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.train.Comparison;
import dev.upcycle.train.Report;
import dev.upcycle.train.ReportFiles;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code upcycle report}: a Markdown comparison of train runs, with a chart of all of them. */
@Command(name = "report", sortOptions = false, mixinStandardHelpOptions = true,
        description = "Compares train runs (their output directories) in one Markdown file: a chart of every "
                + "run's loss against tokens, a table (steps, tokens, train and eval loss, tokens/s, parameters, "
                + "FLOPs), which run reached the lowest loss and by how much, and each run's own plots.",
        footerHeading = "%nExample:%n",
        footer = "  upcycle report build/quickstart/moe-trained build/quickstart/dense-trained -o build/quickstart/report.md")
final class ReportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0..*", arity = "1..*", paramLabel = "RUNS", description = "Output directories of upcycle train.")
    List<Path> runs;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE",
            description = "The Markdown file to write; its chart goes beside it as NAME-loss.png.")
    Path output;

    @Option(names = "--force", description = "Replace FILE and its chart when they are an earlier report.")
    boolean force;

    @Override
    public Integer call() {
        List<Report.Row> rows = runs.stream().map(Report::read).toList();
        ReportFiles files = ReportFiles.prepare(output, force);
        PrintWriter err = spec.commandLine().getErr();
        Comparison.differences(rows).forEach(d -> err.println("upcycle: warning: " + d));
        Report.chart(rows, files.chart());
        CheckpointWriter.writeAtomically(output.toAbsolutePath(),
                Report.markdown(rows, files).getBytes(StandardCharsets.UTF_8));
        PrintWriter out = spec.commandLine().getOut();
        out.println("report " + files.markdown() + " (" + rows.size() + (rows.size() == 1 ? " run" : " runs")
                + "), chart " + files.chart());
        String verdict = Comparison.verdict(rows);
        if (verdict != null) {
            out.println(verdict);
        }
        return 0;
    }
}
