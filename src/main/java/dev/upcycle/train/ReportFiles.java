package dev.upcycle.train;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The two files {@code report} writes: the Markdown file named by {@code -o} and its chart beside
 * it ({@code NAME-loss.png} for {@code NAME.md}). Neither replaces an existing file unless
 * {@code --force} is given, and then only a report or chart (a file that starts as they do), never
 * a link or a directory, so a mistyped {@code -o} cannot overwrite someone's document.
 *
 * @param markdown the report
 * @param chart    the loss chart of all runs
 */
public record ReportFiles(Path markdown, Path chart) {
    private static final byte[] PNG = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /**
     * Checks both targets and creates the report's directory.
     *
     * @throws UpcycleException OutputExists (exit 4) without --force, UnsafeOutput (exit 3) when
     *                          --force would replace something that is not a report, IoError
     */
    public static ReportFiles prepare(Path output, boolean force) {
        String name = output.getFileName().toString();
        Path chart = output.resolveSibling((name.endsWith(".md") ? name.substring(0, name.length() - 3) : name)
                + "-loss.png");
        check(output, force, Report.TITLE.getBytes(StandardCharsets.UTF_8), "a report written by upcycle report");
        check(chart, force, PNG, "a PNG image");
        Path parent = output.toAbsolutePath().getParent();
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, parent.toString(), "cannot create directory: " + e.getMessage());
        }
        return new ReportFiles(output, chart);
    }

    private static void check(Path file, boolean force, byte[] start, String what) {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        String where = file.toString();
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new UpcycleException(force ? ErrorKind.UnsafeOutput : ErrorKind.OutputExists, where,
                    "exists and is not a regular file; it is never replaced", "choose another output path");
        }
        if (!startsWith(file, start)) {
            throw new UpcycleException(force ? ErrorKind.UnsafeOutput : ErrorKind.OutputExists, where,
                    "exists and is not " + what + "; --force would not replace it", "choose another output path");
        }
        if (!force) {
            throw new UpcycleException(ErrorKind.OutputExists, where, "exists", "pass --force to replace it");
        }
    }

    private static boolean startsWith(Path file, byte[] start) {
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            return Arrays.equals(in.readNBytes(start.length), start);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read: " + e.getMessage());
        }
    }
}
