package dev.upcycle.io;

import static dev.upcycle.io.StFiles.assertFails;
import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputDirectoryTest {
    @TempDir
    Path dir;

    private List<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws IOException {
        Path target = dir.resolve("a/b/out");
        try (OutputDirectory out = OutputDirectory.create(target, false)) {
            Files.writeString(out.staging().resolve("x.txt"), "partial");
            assertThat(names(dir.resolve("a/b"))).hasSize(2); // staging + lock
        }
        assertThat(names(dir.resolve("a/b"))).isEmpty();
    }

    @Test
    void commitMakesTheTargetAppearWhole() throws IOException {
        Path target = dir.resolve("out");
        try (OutputDirectory out = OutputDirectory.create(target, false)) {
            Files.writeString(out.staging().resolve(OutputDirectory.MARKER), "{}");
            Files.createDirectories(out.staging().resolve("sub"));
            Files.writeString(out.staging().resolve("sub/y"), "y");
            assertThat(target).doesNotExist();
            out.commit();
        }
        assertThat(names(dir)).containsExactly("out");
        assertThat(names(target)).containsExactly("sub", OutputDirectory.MARKER);
    }

    @Test
    void refusesExistingOutputWithoutForce() throws IOException {
        Path target = Files.createDirectories(dir.resolve("out"));
        Files.writeString(target.resolve("keep"), "k");
        Files.writeString(target.resolve(OutputDirectory.MARKER), "{}");
        UpcycleException e = assertFails(() -> OutputDirectory.create(target, false), ErrorKind.OutputExists, "out");
        assertThat(e.hint()).isEqualTo("pass --force to replace it");
        assertThat(e.exitCode().code()).isEqualTo(4);
        assertThat(names(dir)).containsExactly("out");
    }

    /** A directory upcycle did not write: the first message says that --force would not help, not "pass --force". */
    @Test
    void refusalOfADirectoryThatIsNotOursSaysForceWouldNotHelp() throws IOException {
        Path target = Files.createDirectories(dir.resolve("home"));
        Files.writeString(target.resolve("thesis.tex"), "precious");
        UpcycleException e = assertFails(() -> OutputDirectory.create(target, false), ErrorKind.OutputExists, "home");
        assertThat(e.why()).contains("not written by upcycle").contains("--force would not replace it");
        assertThat(e.hint()).doesNotContain("--force").contains("choose another output path");
    }

    @Test
    void forceRefusesADirectoryThatIsNotOurs() throws IOException {
        Path target = Files.createDirectories(dir.resolve("home"));
        Files.writeString(target.resolve("thesis.tex"), "precious");
        assertFails(() -> OutputDirectory.create(target, true), ErrorKind.UnsafeOutput, "home");
        assertThat(target.resolve("thesis.tex")).exists();
        Path file = Files.writeString(dir.resolve("f"), "x");
        assertFails(() -> OutputDirectory.create(file, true), ErrorKind.UnsafeOutput, "f");
    }

    @Test
    void emptyExistingDirectoryIsFine() throws IOException {
        Path target = Files.createDirectories(dir.resolve("out"));
        try (OutputDirectory out = OutputDirectory.create(target, false)) {
            Files.writeString(out.staging().resolve("m"), "m");
            out.commit();
        }
        assertThat(names(target)).containsExactly("m");
    }

    @Test
    void forceReplacesAnUpcycleOutput() throws IOException {
        Path target = Files.createDirectories(dir.resolve("out"));
        Files.writeString(target.resolve(OutputDirectory.MARKER), "old");
        Files.writeString(target.resolve("stale.safetensors"), "old");
        try (OutputDirectory out = OutputDirectory.create(target, true)) {
            Files.writeString(out.staging().resolve(OutputDirectory.MARKER), "new");
            out.commit();
        }
        assertThat(names(target)).containsExactly(OutputDirectory.MARKER);
        assertThat(Files.readString(target.resolve(OutputDirectory.MARKER))).isEqualTo("new");
        assertThat(names(dir)).containsExactly("out"); // old copy, staging and lock gone
    }

    @Test
    void lockHeldByALiveProcessRefuses() throws IOException {
        Path target = dir.resolve("out");
        try (OutputDirectory first = OutputDirectory.create(target, false)) {
            UpcycleException e = assertFails(() -> OutputDirectory.create(target, false), ErrorKind.OutputLocked, "out");
            assertThat(e.why()).contains(Long.toString(ProcessHandle.current().pid()));
            assertThat(e.exitCode().code()).isEqualTo(4);
            assertThat(first.staging()).isDirectory();
        }
    }

    @Test
    void staleLockIsTakenOver() throws IOException {
        Path target = dir.resolve("out");
        // PID 2^22+1 is above the largest pid_max Linux allows (2^22): never alive.
        Files.writeString(dir.resolve(".out.upcycle-lock"), "4194305\n");
        try (OutputDirectory out = OutputDirectory.create(target, false)) {
            assertThat(out.staging()).isDirectory();
            assertThat(Files.readString(dir.resolve(".out.upcycle-lock")).trim())
                    .isEqualTo(Long.toString(ProcessHandle.current().pid()));
        }
        assertThat(names(dir)).isEmpty();
    }

    @Test
    void unwritableParentIsAnEnvironmentError() throws IOException {
        Path parent = Files.createDirectories(dir.resolve("ro"));
        parent.toFile().setWritable(false, false);
        Path blocked = parent;
        if (Files.isWritable(parent)) {
            // Running as root: permissions do not bind, so use a parent that is a regular file.
            parent.toFile().setWritable(true, false);
            blocked = Files.writeString(dir.resolve("plainfile"), "x");
        }
        Path target = blocked.resolve("out");
        try {
            Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> OutputDirectory.create(target, false));
            assertThat(t).isInstanceOf(UpcycleException.class);
            UpcycleException e = (UpcycleException) t;
            assertThat(e.kind()).isIn(ErrorKind.IoError, ErrorKind.OutputExists);
            assertThat(e.exitCode().code()).isEqualTo(4);
            assertThat(e.where()).contains(blocked.getFileName().toString());
        } finally {
            parent.toFile().setWritable(true, false);
        }
        assertThat(names(parent)).isEmpty();
    }
}
