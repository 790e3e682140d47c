package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one link rule for model files: inside the directory, or a cache snapshot's own blobs; nothing else. */
class ModelFilesTest {
    @TempDir
    Path tmp;

    private Path dir() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("model"));
        Files.writeString(d.resolve("config.json"), "{}");
        return d;
    }

    private Path secret() throws IOException {
        return Files.writeString(tmp.resolve("passwd"), "root:x:0:0:secret", StandardCharsets.UTF_8);
    }

    private static void refused(ThrowingCallable call, String where, String why) {
        assertThatThrownBy(call).isInstanceOfSatisfying(UpcycleException.class, e -> {
            assertThat(e.kind()).isEqualTo(ErrorKind.UnsafePath);
            assertThat(e.exitCode().code()).isEqualTo(3);
            assertThat(e.where()).endsWith(where);
            assertThat(e.why()).contains(why);
        });
    }

    @Test
    void plainFilesAndLinksInsideAreAccepted() throws IOException {
        Path d = dir();
        Files.writeString(d.resolve("real-tokenizer.json"), "{}");
        Files.createSymbolicLink(d.resolve("tokenizer.json"), Path.of("real-tokenizer.json"));
        ModelFiles files = ModelFiles.of(d);
        assertThat(files.isCacheSnapshot()).isFalse();
        assertThat(files.file("config.json", ErrorKind.InvalidConfig)).isEqualTo(d.resolve("config.json"));
        assertThat(files.sideFiles()).containsExactly(d.resolve("tokenizer.json"));
        assertThat(files.optional("merges.txt")).isEmpty();
        assertThatThrownBy(() -> files.file("missing.json", ErrorKind.MissingShard))
                .isInstanceOfSatisfying(UpcycleException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.MissingShard));
    }

    @Test
    void everySideFileLinkedOutsideIsRefused() throws IOException {
        Path secret = secret();
        for (String name : ModelFiles.SIDE_FILES) {
            Path d = dir();
            Path link = Files.createSymbolicLink(d.resolve(name), secret);
            refused(() -> ModelFiles.of(d).sideFiles(), name, "outside the checkpoint directory");
            Files.delete(link);
        }
    }

    @Test
    void danglingLinksDirectoriesAndFifosAreRefusedWithoutBeingOpened() throws Exception {
        Path d = dir();
        Files.createSymbolicLink(d.resolve("tokenizer.json"), tmp.resolve("gone"));
        refused(() -> ModelFiles.of(d).optional("tokenizer.json"), "tokenizer.json", "does not resolve");

        Files.createDirectories(d.resolve("sub"));
        Files.createSymbolicLink(d.resolve("vocab.json"), d.resolve("sub"));
        refused(() -> ModelFiles.of(d).file("vocab.json", ErrorKind.NoCheckpoint), "vocab.json", "a directory");
        Files.createDirectories(d.resolve("merges.txt"));
        refused(() -> ModelFiles.of(d).file("merges.txt", ErrorKind.NoCheckpoint), "merges.txt", "a directory");

        Path fifo = d.resolve("tokenizer.model");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        // Opening a FIFO for reading would block forever: the rule refuses it first.
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> refused(
                () -> ModelFiles.of(d).optional("tokenizer.model"), "tokenizer.model", "FIFO"));
        Path link = Files.createSymbolicLink(d.resolve("special_tokens_map.json"), fifo);
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> refused(
                () -> ModelFiles.of(d).optional("special_tokens_map.json"), "special_tokens_map.json", "FIFO"));
        assertThat(Files.isSymbolicLink(link)).isTrue();
    }

    @Test
    void aCacheSnapshotMayLinkIntoItsOwnBlobsOnly() throws IOException {
        Path model = dir();
        Files.writeString(model.resolve("tokenizer.json"), "{\"model\":{}}");
        Path cache = tmp.resolve("hub");
        Path snap = HubFixture.snapshot(cache, "org/tiny", model);
        ModelFiles files = ModelFiles.of(snap);
        assertThat(files.isCacheSnapshot()).isTrue();
        assertThat(files.repoId()).contains("org/tiny");
        // The snapshot path is handed back, not the blob's hash.
        assertThat(files.file("config.json", ErrorKind.InvalidConfig)).isEqualTo(snap.resolve("config.json"));
        assertThat(files.sideFiles()).containsExactly(snap.resolve("tokenizer.json"));

        Path foreign = HubFixture.blob(cache, "other/repo", "root:x:0:0:secret".getBytes(StandardCharsets.UTF_8));
        Files.createSymbolicLink(snap.resolve("vocab.json"), Path.of("..", "..", "..", "models--other--repo", "blobs",
                foreign.getFileName().toString()));
        refused(() -> ModelFiles.of(snap).sideFiles(), "vocab.json", "outside the checkpoint directory");
        Files.delete(snap.resolve("vocab.json"));

        Files.createSymbolicLink(snap.resolve("merges.txt"), secret());
        refused(() -> ModelFiles.of(snap).sideFiles(), "merges.txt", "outside the checkpoint directory");
    }

    @Test
    void linksIntoACacheAreFollowedOnlyFromItsSnapshots() throws IOException {
        Path model = dir();
        Path snap = HubFixture.snapshot(tmp.resolve("hub"), "org/tiny", model);
        Path plain = Files.createDirectories(tmp.resolve("plain"));
        Files.createSymbolicLink(plain.resolve("config.json"), snap.resolve("config.json"));
        refused(() -> ModelFiles.of(plain).file("config.json", ErrorKind.InvalidConfig), "config.json",
                "outside the checkpoint directory");
        // A link to the snapshot directory is the snapshot.
        Path alias = Files.createSymbolicLink(tmp.resolve("alias"), snap);
        assertThat(ModelFiles.of(alias).file("config.json", ErrorKind.InvalidConfig)).isEqualTo(alias.resolve("config.json"));
    }

    @Test
    void aBlobsDirectoryThatIsALinkDoesNotWidenTheRule() throws IOException {
        Path model = dir();
        Path snap = HubFixture.snapshot(tmp.resolve("hub"), "org/tiny", model);
        Path repo = snap.getParent().getParent();
        Path realBlobs = Files.move(repo.resolve("blobs"), tmp.resolve("elsewhere"));
        Files.createSymbolicLink(repo.resolve("blobs"), realBlobs);
        ModelFiles files = ModelFiles.of(snap);
        assertThat(files.isCacheSnapshot()).isFalse();
        refused(() -> files.file("config.json", ErrorKind.InvalidConfig), "config.json", "outside");
    }

    @Test
    void copiesAreRegularFilesWithTheBlobsContent() throws IOException {
        Path model = dir();
        Files.writeString(model.resolve("generation_config.json"), "{\"eos_token_id\": 2}");
        Path snap = HubFixture.snapshot(tmp.resolve("hub"), "org/tiny", model);
        Path out = Files.createDirectories(tmp.resolve("out"));
        ModelFiles.of(snap).copy("generation_config.json", out.resolve("generation_config.json"));
        Path copy = out.resolve("generation_config.json");
        assertThat(Files.isSymbolicLink(copy)).isFalse();
        assertThat(Files.isRegularFile(copy, LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.readString(copy)).isEqualTo("{\"eos_token_id\": 2}");
    }
}
