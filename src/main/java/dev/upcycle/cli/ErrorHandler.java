package dev.upcycle.cli;

import dev.upcycle.error.Cancellation;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.ExitCode;
import dev.upcycle.error.Interrupted;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;

/**
 * The one place where failures become exit codes and error lines (docs/formats.md,
 * "Errors and exit codes"): an {@link UpcycleException} prints
 * {@code upcycle: <what> : <where> : <why>} and an optional hint; a usage error prints the same form
 * with exit 2; anything else is a bug: exit 70 with the stack trace written to a file (or printed under
 * --debug).
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
        PrintWriter err = cl.getErr();
        boolean debug = isDebug(parseResult);
        if (ex instanceof UpcycleException u) {
            return report(err, u, debug, u);
        }
        if (ex instanceof Interrupted i) {
            List<String> notes = Cancellation.notes();
            err.println("upcycle: Interrupted : " + cl.getCommandSpec().name() + " : stopped by " + i.signal() + "; "
                    + (notes.isEmpty() ? "nothing written" : String.join("; ", notes)));
            return i.exitCode();
        }
        if (ex instanceof CommandLine.ParameterException pe) {
            return handleParseException(pe, new String[0]);
        }
        if (ex instanceof ai.djl.engine.EngineException && isAllocationFailure(ex.getMessage())) {
            return report(err, new UpcycleException(ErrorKind.OutOfMemory, commandName(cl),
                    "libtorch could not allocate memory: " + oneLine(ex.getMessage()),
                    "lower the sizes of the run (batch, sequence length, tokens) or free memory"), debug, ex);
        }
        String trace = stackTrace(ex);
        if (debug) {
            err.print(trace);
        }
        String where = commandName(cl);
        String saved = saveTrace(trace);
        err.println("upcycle: InternalError : " + where + " : " + firstLine(ex)
                + (saved != null ? " (stack trace in " + saved + ")" : ""));
        err.println("  This is a bug in upcycle; please report it with the stack trace.");
        return ExitCode.INTERNAL.code();
    }

    private static int report(PrintWriter err, UpcycleException u, boolean debug, Throwable cause) {
        if (debug) {
            cause.printStackTrace(err);
        }
        err.println("upcycle: " + u.line());
        if (u.hint() != null) {
            err.println("  " + u.hint());
        }
        return u.exitCode().code();
    }

    /**
     * An OutOfMemoryError from a command: one line, exit 4, and the JVM option to raise. The
     * command's arrays are unreachable once the error has unwound to here, so printing is safe.
     */
    static int outOfMemory(OutOfMemoryError e, CommandLine cl, PrintWriter err) {
        CommandLine.ParseResult pr = cl.getParseResult();
        String where = "upcycle";
        for (CommandLine.ParseResult r = pr; r != null; r = r.subcommand()) {
            where = r.commandSpec().qualifiedName();
        }
        String m = e.getMessage() == null ? "" : e.getMessage();
        boolean direct = m.contains("direct buffer");
        long maxGiB = Math.max(1, (Runtime.getRuntime().maxMemory() + (1L << 30) - 1) >> 30);
        String option = direct ? "-XX:MaxDirectMemorySize=" + 2 * maxGiB + "g" : "-Xmx" + 2 * maxGiB + "g";
        UpcycleException u = new UpcycleException(ErrorKind.OutOfMemory, where, (direct
                ? "the JVM's direct buffer memory ran out" : "the Java heap ran out") + " (" + oneLine(m) + ")",
                "raise the limit, e.g. UPCYCLE_JAVA_OPTS=" + option + " for scripts/upcycle (java " + option
                        + " -jar ...), or use smaller settings");
        return report(err, u, pr != null && isDebug(pr), e);
    }

    /** libtorch's CPU allocator's words for a failed allocation. */
    static boolean isAllocationFailure(String message) {
        return message != null && (message.contains("can't allocate memory") || message.contains("not enough memory")
                || message.contains("std::bad_alloc"));
    }

    @Override
    public int handleParseException(CommandLine.ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println("upcycle: UsageError : " + commandName(cl) + " : " + usageWhy(ex));
        err.println("  Try '" + cl.getCommandSpec().qualifiedName() + " --help'.");
        return ExitCode.USAGE.code();
    }

    /**
     * picocli's message, with a suggestion for a mistyped command or option: {@code upcycle conver}
     * proposes {@code convert}, {@code --expert} proposes {@code --experts}.
     */
    static String usageWhy(CommandLine.ParameterException ex) {
        String why = oneLine(ex.getMessage());
        if (!(ex instanceof CommandLine.UnmatchedArgumentException u) || u.getUnmatched().isEmpty()) {
            return why;
        }
        String typed = u.getUnmatched().get(0);
        CommandLine.Model.CommandSpec spec = ex.getCommandLine().getCommandSpec();
        if (u.isUnknownOption()) {
            List<String> names = new java.util.ArrayList<>();
            spec.options().forEach(o -> names.addAll(java.util.Arrays.asList(o.names())));
            String option = typed.contains("=") ? typed.substring(0, typed.indexOf('=')) : typed;
            return why + dev.upcycle.error.Suggestions.didYouMean(option, names);
        }
        if (!spec.subcommands().isEmpty() && spec.positionalParameters().isEmpty()) {
            return "unknown command '" + typed + "'"
                    + dev.upcycle.error.Suggestions.didYouMean(typed, spec.subcommands().keySet());
        }
        return why;
    }

    private static boolean isDebug(CommandLine.ParseResult pr) {
        for (CommandLine.ParseResult r = pr; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--debug")) {
                return true;
            }
        }
        return false;
    }

    private static String commandName(CommandLine cl) {
        return cl.getCommandSpec().qualifiedName();
    }

    private static String firstLine(Throwable t) {
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + oneLine(m));
    }

    private static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static String stackTrace(Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    private static String saveTrace(String trace) {
        try {
            Path f = Files.createTempFile("upcycle-crash-", ".txt");
            Files.writeString(f, trace, StandardCharsets.UTF_8);
            return f.toString();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
