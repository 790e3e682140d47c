package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.HubFixture;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command reads a Hugging Face cache snapshot (files are links into the repository's
 * blobs/) like a plain directory, writes regular files only, and refuses every other link with
 * UnsafePath (exit 3) without reading or copying it.
 */
class HubCacheCliTest {
    private static final String SECRET = "root:x:0:0:this-must-never-be-copied";

    @TempDir
    Path tmp;

    /** A byte-level llama (vocab 256) with every side file, put into a fake cache as org/tiny. */
    private Path snapshot() throws IOException {
        Path model = tmp.resolve("synth");
        Cli r = Cli.run("synth", "--family", "llama", "--hidden", "32", "--heads", "4", "--kv-heads", "2",
                "--intermediate", "48", "--vocab", "256", "--seed", "3", "-o", model.toString(), "-q");
        assertThat(r.code()).as(r.err()).isZero();
        for (String side : ModelFiles.SIDE_FILES) {
            Files.writeString(model.resolve(side), "{\"file\": \"" + side + "\"}");
        }
        return HubFixture.snapshot(tmp.resolve("hub"), "org/tiny", model);
    }

    private Path data() throws IOException {
        return Files.writeString(tmp.resolve("data.txt"), "The quick brown fox jumps over the lazy dog. ".repeat(40));
    }

    private static void assertRegularFilesOnly(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.toList()) {
                assertThat(Files.isSymbolicLink(p)).as("%s is a link", p).isFalse();
                assertThat(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
                        .as(p.toString()).isTrue();
            }
        }
    }

    /** No file under the test's directory holds the secret, but the secret itself. */
    private void assertSecretNowhereElse(Path secret) throws IOException {
        try (Stream<Path> all = Files.walk(tmp)) {
            for (Path p : all.filter(f -> Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)).toList()) {
                if (!p.equals(secret)) {
                    assertThat(Files.readString(p, StandardCharsets.ISO_8859_1)).as(p.toString()).doesNotContain(SECRET);
                }
            }
        }
    }

    @Test
    void everyCommandReadsASnapshotLikeAPlainDirectory() throws IOException {
        Path snap = snapshot();
        Path data = data();

        Cli inspect = Cli.run("inspect", snap.toString());
        assertThat(inspect.code()).as(inspect.err()).isZero();
        assertThat(inspect.out()).containsPattern("problems\\s+none");

        Path moe = tmp.resolve("moe");
        Cli convert = Cli.run("convert", snap.toString(), "-o", moe.toString(), "--experts", "4", "--top-k", "2",
                "--routing", "topk-softmax");
        assertThat(convert.code()).as(convert.err()).isZero();
        assertRegularFilesOnly(moe);
        for (String side : ModelFiles.SIDE_FILES) {
            assertThat(Files.readString(moe.resolve(side))).isEqualTo("{\"file\": \"" + side + "\"}");
        }
        // The model card names the repository, not the snapshot's commit hash.
        assertThat(Files.readString(moe.resolve("README.md"))).contains("org/tiny");

        Cli verify = Cli.run("verify", moe.toString(), "--against", snap.toString());
        assertThat(verify.code()).as(verify.out() + verify.err()).isZero();
        assertThat(verify.out()).contains("functional");
        Cli verifySnap = Cli.run("verify", snap.toString());
        assertThat(verifySnap.code()).as(verifySnap.out() + verifySnap.err()).isZero();

        Cli eval = Cli.run("eval", snap.toString(), "--data", data.toString(), "--bytes", "--max-tokens", "256",
                "--seq-len", "64");
        assertThat(eval.code()).as(eval.err()).isZero();
        Cli sample = Cli.run("sample", snap.toString(), "--prompt", "The ", "--tokens", "4", "--bytes");
        assertThat(sample.code()).as(sample.err()).isZero();

        Path run = tmp.resolve("run");
        Cli train = Cli.run("train", snap.toString(), "--data", data.toString(), "--bytes", "-o", run.toString(),
                "--steps", "2", "--batch", "2", "--seq-len", "32", "--save-every", "1", "--compute-of", snap.toString());
        assertThat(train.code()).as(train.err()).isZero();
        assertRegularFilesOnly(run);
        assertThat(Files.readString(run.resolve("tokenizer_config.json"))).contains("tokenizer_config.json");
        assertThat(run.resolve("checkpoints/step-2/chat_template.jinja")).isRegularFile();
        Cli resume = Cli.run("train", snap.toString(), "--data", data.toString(), "--bytes", "-o", run.toString(),
                "--steps", "3", "--batch", "2", "--seq-len", "32", "--save-every", "0",
                "--resume", run.resolve("checkpoints/step-2").toString());
        assertThat(resume.code()).as(resume.err()).isZero();

        // The outputs' own files obey the same rule when read back: verify's manifest, report's run files.
        Path secret = Files.writeString(tmp.resolve("passwd"), SECRET);
        Files.delete(moe.resolve("tokenizer.json"));
        Files.createSymbolicLink(moe.resolve("tokenizer.json"), secret);
        Cli tampered = Cli.run("verify", moe.toString());
        assertThat(tampered.code()).as(tampered.out() + tampered.err()).isEqualTo(3);
        assertThat(tampered.err()).startsWith("upcycle: UnsafePath : " + moe.resolve("tokenizer.json"));
        Files.delete(run.resolve("metrics.jsonl"));
        Files.createSymbolicLink(run.resolve("metrics.jsonl"), secret);
        Cli report = Cli.run("report", run.toString(), "-o", tmp.resolve("report.md").toString());
        assertThat(report.code()).as(report.err()).isEqualTo(3);
        assertThat(report.errorLine()).startsWith("upcycle: UnsafePath : " + run.resolve("metrics.jsonl"));
        for (Cli c : List.of(tampered, report)) {
            assertThat(c.out() + c.err()).doesNotContain(SECRET);
        }
    }

    @Test
    void convertRefusesEverySideFileLinkedOutsideAndCopiesNothing() throws IOException {
        Path snap = snapshot();
        Path secret = Files.writeString(tmp.resolve("passwd"), SECRET);
        for (String side : ModelFiles.SIDE_FILES) {
            Path link = snap.resolve(side);
            Path blobLink = Files.readSymbolicLink(link);
            Files.delete(link);
            Files.createSymbolicLink(link, secret);
            Path out = tmp.resolve("out-" + side);
            for (boolean dryRun : new boolean[] {true, false}) {
                Cli c = dryRun ? Cli.run("convert", snap.toString(), "--dry-run")
                        : Cli.run("convert", snap.toString(), "-o", out.toString());
                assertThat(c.code()).as(side + ": " + c.err()).isEqualTo(3);
                assertThat(c.errorLine()).startsWith("upcycle: UnsafePath : " + link).contains("outside");
                assertThat(c.out() + c.err()).doesNotContain(SECRET);
            }
            assertThat(out).doesNotExist();
            Cli inspect = Cli.run("inspect", snap.toString());
            assertThat(inspect.code()).as(side + ": " + inspect.out()).isEqualTo(3);
            assertThat(inspect.out()).contains("error UnsafePath").contains(side);
            try (Stream<Path> left = Files.list(tmp)) {
                assertThat(left.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains("out-"));
            }
            Files.delete(link);
            Files.createSymbolicLink(link, blobLink);
        }
        assertSecretNowhereElse(secret);
    }

    @Test
    void trainEvalAndSampleRefuseATokenizerLinkedOutside() throws IOException {
        Path snap = snapshot();
        Path secret = Files.writeString(tmp.resolve("passwd"), SECRET);
        Path data = data();
        Files.delete(snap.resolve("tokenizer.json"));
        Files.createSymbolicLink(snap.resolve("tokenizer.json"), secret);
        Cli eval = Cli.run("eval", snap.toString(), "--data", data.toString());
        Cli sample = Cli.run("sample", snap.toString(), "--prompt", "x");
        Path run = tmp.resolve("run");
        Cli train = Cli.run("train", snap.toString(), "--data", data.toString(), "--bytes", "-o", run.toString(),
                "--steps", "1", "--batch", "1", "--seq-len", "16");
        for (Cli c : List.of(eval, sample, train)) {
            assertThat(c.code()).as(c.err()).isEqualTo(3);
            assertThat(c.errorLine()).startsWith("upcycle: UnsafePath : " + snap.resolve("tokenizer.json"));
            assertThat(c.out() + c.err()).doesNotContain(SECRET);
        }
        assertThat(run).doesNotExist();
        assertSecretNowhereElse(secret);
    }

    @Test
    void linksIntoAnotherRepositoryToDirectoriesAndFifosAreRefused() throws Exception {
        Path snap = snapshot();
        Path foreign = HubFixture.blob(tmp.resolve("hub"), "other/secret", SECRET.getBytes(StandardCharsets.UTF_8));
        // A directory and a FIFO inside the repository's own blobs/: the place is right, the kind is not.
        Path blobs = snap.getParent().getParent().resolve("blobs");
        Path fifo = blobs.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        Path dir = Files.createDirectories(blobs.resolve("a-directory"));
        Path outsideDir = Files.createDirectories(tmp.resolve("outside-directory"));
        // config.json and the weights go through the same rule as the side files.
        List<List<Object>> cases = List.of(
                List.of("vocab.json", Path.of("../../../models--other--secret/blobs/" + foreign.getFileName()), "outside"),
                List.of("config.json", Path.of("../../../models--other--secret/blobs/" + foreign.getFileName()), "outside"),
                List.of("merges.txt", dir, "a directory"),
                List.of("special_tokens_map.json", outsideDir, "outside"),
                List.of("tokenizer.model", fifo, "FIFO"),
                List.of("model.safetensors", fifo, "FIFO"),
                List.of("generation_config.json", tmp.resolve("dangling"), "does not resolve"));
        for (List<Object> c : cases) {
            Path link = snap.resolve((String) c.get(0));
            Path original = Files.readSymbolicLink(link);
            Files.delete(link);
            Files.createSymbolicLink(link, (Path) c.get(1));
            Path out = tmp.resolve("out");
            Cli convert = Cli.run("convert", snap.toString(), "-o", out.toString());
            assertThat(convert.code()).as(c + ": " + convert.err()).isEqualTo(3);
            assertThat(convert.errorLine()).as(c.toString()).startsWith("upcycle: UnsafePath : " + link)
                    .contains((String) c.get(2));
            assertThat(out).doesNotExist();
            Files.delete(link);
            Files.createSymbolicLink(link, original);
        }
        assertSecretNowhereElse(foreign);
    }
}
