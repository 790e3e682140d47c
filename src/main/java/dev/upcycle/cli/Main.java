package dev.upcycle.cli;

import dev.upcycle.error.Cancellation;
import dev.upcycle.runtime.Djl;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code upcycle} command. {@link #run} returns the exit code so tests never exit the JVM;
 * only {@link #main} calls System.exit.
 */
@Command(name = "upcycle",
        mixinStandardHelpOptions = true,
        versionProvider = VersionInfo.class,
        description = "Turns dense decoder-only language models into Mixture-of-Experts models.",
        commandListHeading = "%nCommands (upcycle COMMAND --help for each one's options and examples):%n",
        subcommands = {InspectCommand.class, ConvertCommand.class, VerifyCommand.class, EvalCommand.class,
            TrainCommand.class, SampleCommand.class, ReportCommand.class, SynthCommand.class, RunCommand.class,
            CommandLine.HelpCommand.class, picocli.AutoComplete.GenerateCompletion.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:success (verify: every check passed)",
            " 1:a check failed (verify found a problem, eval missed --max-loss)",
            " 2:usage error (unknown option, bad value)",
            " 3:bad or unsupported input (malformed checkpoint, unsupported family, impossible options)",
            " 4:environment or I/O failure (disk full, permission denied, output exists, not enough memory)",
            "70:internal error (a bug; the stack trace is written to a file)",
            "130:interrupted by SIGINT (Ctrl-C): stopped cleanly, staging removed, lock released",
            "143:interrupted by SIGTERM, as for 130"},
        footerHeading = "%nExample:%n",
        footer = {"  upcycle convert test-fixtures/tiny-llama -o build/tiny-moe --dry-run",
            "",
            "Documentation: docs/README.md (method, attention experts, formats, design)."})
public final class Main implements Runnable {

    @Option(names = "--debug", scope = ScopeType.INHERIT,
            description = "Print stack traces of errors instead of one-line messages.")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }

    public static void main(String[] args) {
        // First of all: a signal from here on stops the run cleanly instead of exiting the JVM.
        SignalTrap.install();
        // Before any DJL class loads: never reach the network.
        Djl.offline();
        int code = run(args);
        SignalTrap.finished();
        System.exit(code);
    }

    /** Runs with the process's stdout and stderr. */
    public static int run(String... args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        return run(out, err, args);
    }

    /** Runs with the given streams; used by tests to capture output. */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        int code;
        try {
            code = cl.execute(args);
        } catch (OutOfMemoryError e) {
            // picocli hands only Exceptions to the handler; an Error leaves execute() as it is.
            code = ErrorHandler.outOfMemory(e, cl, err);
        }
        Cancellation.Signal signal = Cancellation.signal();
        if (signal != null && code == 0) {
            // The signal came after the last safe point: the work is complete, but the run was
            // still asked to stop, and scripts must see that.
            CommandLine.ParseResult pr = cl.getParseResult();
            String command = pr != null && pr.subcommand() != null ? pr.subcommand().commandSpec().name() : "upcycle";
            err.println("upcycle: Interrupted : " + command + " : " + signal
                    + " came after the work was done; its output is complete and kept");
            code = signal.exitCode();
        }
        out.flush();
        err.flush();
        return code;
    }

    /** The configured command tree (also used to generate completion and docs). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        ErrorHandler handler = new ErrorHandler();
        cl.setExecutionExceptionHandler(handler);
        cl.setParameterExceptionHandler(handler);
        cl.setCaseInsensitiveEnumValuesAllowed(false);
        HelpWrap.install(cl);
        HelpSections.install(cl);
        return cl;
    }
}
