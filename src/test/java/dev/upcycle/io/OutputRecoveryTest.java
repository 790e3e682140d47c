package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a SIGKILLed run leaves behind is cleaned up, and a moved-aside previous output is put back. */
class OutputRecoveryTest {
    @TempDir
    Path tmp;

    private Path previousOutput(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(OutputDirectory.MARKER), "{}");
        Files.writeString(dir.resolve("model.safetensors"), "previous");
        return dir;
    }

    private java.util.List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void leftoverStagingDirectoriesAreDeleted() throws IOException {
        Files.createDirectories(tmp.resolve(".out.upcycle-tmp-0123456789ab/sub"));
        Files.writeString(tmp.resolve(".out.upcycle-tmp-0123456789ab/sub/x"), "partial");
        Files.createDirectories(tmp.resolve(".other.upcycle-tmp-aa"));
        try (OutputDirectory out = OutputDirectory.create(tmp.resolve("out"), false)) {
            Files.writeString(out.staging().resolve(OutputDirectory.MARKER), "{}");
            out.commit();
        }
        // Only this output's leftovers are ours to delete.
        assertThat(names()).containsExactly(".other.upcycle-tmp-aa", "out");
    }

    @Test
    void aPreviousOutputMovedAsideByAKilledCommitIsRestored() throws IOException {
        previousOutput(tmp.resolve(".out.upcycle-old-0123456789ab"));
        try (OutputDirectory out = OutputDirectory.create(tmp.resolve("out"), false)) {
            // Without --force the restored output now blocks the new one, exactly as before the kill.
            throw new AssertionError("expected OutputExists, got " + out.staging());
        } catch (dev.upcycle.error.UpcycleException e) {
            assertThat(e.kind()).isEqualTo(dev.upcycle.error.ErrorKind.OutputExists);
        }
        assertThat(names()).containsExactly("out");
        assertThat(Files.readString(tmp.resolve("out/model.safetensors"))).isEqualTo("previous");
    }

    @Test
    void aMovedAsideCopyIsDeletedWhenTheTargetExists() throws IOException {
        previousOutput(tmp.resolve("out"));
        previousOutput(tmp.resolve(".out.upcycle-old-0123456789ab"));
        try (OutputDirectory out = OutputDirectory.create(tmp.resolve("out"), true)) {
            Files.writeString(out.staging().resolve(OutputDirectory.MARKER), "{}");
            out.commit();
        }
        assertThat(names()).containsExactly("out");
    }

    @Test
    void aHalfDeletedReplacedOutputIsNeverRestored() throws IOException {
        // Killed while deleting the output it had just replaced: only a trash directory is left.
        Files.createDirectories(tmp.resolve(".out.upcycle-trash-0123456789ab"));
        Files.writeString(tmp.resolve(".out.upcycle-trash-0123456789ab/model.safetensors"), "half deleted");
        try (OutputDirectory out = OutputDirectory.create(tmp.resolve("out"), false)) {
            Files.writeString(out.staging().resolve(OutputDirectory.MARKER), "{}");
            out.commit();
        }
        assertThat(names()).containsExactly("out");
        assertThat(tmp.resolve("out/model.safetensors")).doesNotExist();
    }

    @Test
    void replacingAnOutputLeavesNoOldOrTrashDirectory() throws IOException {
        previousOutput(tmp.resolve("out"));
        try (OutputDirectory out = OutputDirectory.create(tmp.resolve("out"), true)) {
            Files.writeString(out.staging().resolve(OutputDirectory.MARKER), "{\"new\": true}");
            out.commit();
        }
        assertThat(names()).containsExactly("out");
        assertThat(Files.readString(tmp.resolve("out/" + OutputDirectory.MARKER))).contains("new");
    }
}
