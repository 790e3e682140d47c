package dev.upcycle.testing;

import dev.upcycle.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in-process and captures what it prints: the one way tests run a command without a child JVM. */
public record Cli(int code, String out, String err) {

    public static Cli run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Cli(code, out.toString(), err.toString());
    }

    /**
     * The first stderr line, which must be the one-line error of docs/formats.md,
     * "Errors and exit codes".
     */
    public String errorLine() {
        int nl = err.indexOf('\n');
        return nl < 0 ? err : err.substring(0, nl);
    }
}
