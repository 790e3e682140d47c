package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.TinyModels;
import dev.upcycle.train.Report;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code upcycle report} on real train runs of the tiny model: an MoE and the dense model. */
class ReportCommandTest {
    private static final Path FIXTURE = Path.of("test-fixtures/tiny-llama");

    @TempDir
    static Path runs;
    static Path moe;
    static Path dense;

    @TempDir
    Path tmp;

    @BeforeAll
    static void train() {
        Path model = TinyModels.upcycle(FIXTURE, runs.resolve("moe-model"), "mixtral", 4, 2, -1);
        moe = train(model, "moe", "6");
        dense = train(FIXTURE, "dense", "6");
    }

    private static Path train(Path model, String name, String steps) {
        Path out = runs.resolve(name);
        Cli r = Cli.run("train", model.toString(), "--data", TrainCommandTest.TRAIN, "--eval-data",
                TrainCommandTest.VALID, "--eval-tokens", "512", "--eval-every", "3", "-o", out.toString(), "--steps",
                steps, "--batch", "2", "--seq-len", "32", "--save-every", "0", "-q");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    @Test
    void oneChartOfAllRunsATableAndAResultLineNothingDumpedToStdout() throws IOException {
        Path md = tmp.resolve("cmp/report.md");
        Cli r = Cli.run("report", moe.toString(), dense.toString(), "-o", md.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).isEmpty();
        Path chart = tmp.resolve("cmp/report-loss.png");
        assertThat(r.out().lines().toList()).hasSize(2);
        assertThat(r.out()).startsWith("report " + md + " (2 runs), chart " + chart + "\n")
                .contains("lowest eval loss: ").doesNotContain("# Training report").doesNotContain("|---");
        String text = Files.readString(md);
        assertThat(text).startsWith("# Training report\n\n![loss vs training tokens, all runs](report-loss.png)\n");
        assertThat(text.lines().filter(l -> l.startsWith("**Result:** lowest eval loss: ")).count()).isEqualTo(1);
        assertThat(text).contains("Seed spread unknown").doesNotContain("Not like for like");
        // The MoE run's expert load is embedded; the dense run has none, on disk or in the report.
        assertThat(moe.resolve("expert-load.png")).exists();
        assertThat(dense.resolve("expert-load.png")).doesNotExist();
        assertThat(text).contains("moe/expert-load.png)").doesNotContain("dense/expert-load.png")
                .contains("dense/loss.png)");
        BufferedImage img = ImageIO.read(chart.toFile());
        assertThat(img.getWidth()).isEqualTo(900);
        assertThat(img.getHeight()).isGreaterThan(500);
        // Both runs' colours (the first two of the palette) are drawn on the one chart.
        assertThat(pixelsNear(img, 0x1f77b4)).isGreaterThan(100);
        assertThat(pixelsNear(img, 0xff7f0e)).isGreaterThan(100);
    }

    private static long pixelsNear(BufferedImage img, int rgb) {
        long n = 0;
        for (int y = 60; y < 470; y++) {
            for (int x = 80; x < img.getWidth() - 30; x++) {
                int p = img.getRGB(x, y);
                int d = 0;
                for (int shift = 0; shift <= 16; shift += 8) {
                    d = Math.max(d, Math.abs((p >> shift & 0xff) - (rgb >> shift & 0xff)));
                }
                n += d <= 12 ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void trainConfigIsSnakeCaseAndRunsWithTheOldKebabKeysStillReport() throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode config = json.readTree(moe.resolve("train-config.json").toFile());
        List<String> keys = new java.util.ArrayList<>();
        config.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).contains("seq_len", "tokens_per_step", "eval_data", "min_lr", "save_every")
                .allSatisfy(k -> assertThat(k).doesNotContain("-"));
        // upcycle.json's options keep the option names, as convert's do.
        assertThat(json.readTree(moe.resolve("upcycle.json").toFile()).get("options").has("seq-len")).isTrue();

        // A run written before the rename: the same files with kebab-case keys.
        Path old = tmp.resolve("old-run");
        Files.createDirectories(old);
        for (String f : List.of("config.json", "metrics.jsonl", "loss.png", "expert-load.png")) {
            Files.copy(moe.resolve(f), old.resolve(f));
        }
        ObjectNode kebab = json.createObjectNode();
        config.fields().forEachRemaining(e -> kebab.set(e.getKey().replace('_', '-'), e.getValue()));
        Files.writeString(old.resolve("train-config.json"), kebab.toString());
        assertThat(kebab.has("seq-len")).isTrue();

        Report.Row now = Report.read(moe);
        Report.Row before = Report.read(old);
        assertThat(before.setup()).isEqualTo(now.setup());
        assertThat(before.size()).isNotNull().isEqualTo(now.size());
        assertThat(before.tokens()).isEqualTo(now.tokens()).isEqualTo(6L * 2 * 32);
        assertThat(before.setup().evalData()).isNotEqualTo("none");
        Cli r = Cli.run("report", old.toString(), "-o", tmp.resolve("old.md").toString());
        assertThat(r.code()).as(r.err()).isZero();
    }

    @Test
    void anExistingReportIsReplacedOnlyWithForce() throws IOException {
        Path md = tmp.resolve("report.md");
        assertThat(Cli.run("report", moe.toString(), "-o", md.toString()).code()).isZero();
        byte[] first = Files.readAllBytes(md);
        Files.writeString(md, "\n", java.nio.file.StandardOpenOption.APPEND);
        Cli again = Cli.run("report", moe.toString(), dense.toString(), "-o", md.toString());
        assertThat(again.code()).isEqualTo(4);
        assertThat(again.errorLine()).isEqualTo("upcycle: OutputExists : " + md + " : exists");
        assertThat(again.err()).contains("pass --force to replace it");
        assertThat(Files.readAllBytes(md)).hasSize(first.length + 1);
        Cli forced = Cli.run("report", moe.toString(), dense.toString(), "-o", md.toString(), "--force");
        assertThat(forced.code()).as(forced.err()).isZero();
        assertThat(Files.readString(md)).contains(dense.toString());
    }

    @Test
    void neverReplacesAFileThatIsNotAReportNorADirectory() throws IOException {
        Path notes = Files.writeString(tmp.resolve("notes.md"), "my notes\n");
        Cli plain = Cli.run("report", moe.toString(), "-o", notes.toString());
        assertThat(plain.code()).isEqualTo(4);
        assertThat(plain.errorLine()).isEqualTo("upcycle: OutputExists : " + notes
                + " : exists and is not a report written by upcycle report; --force would not replace it");
        Cli forced = Cli.run("report", moe.toString(), "-o", notes.toString(), "--force");
        assertThat(forced.code()).isEqualTo(3);
        assertThat(forced.errorLine()).startsWith("upcycle: UnsafeOutput : " + notes);
        assertThat(Files.readString(notes)).isEqualTo("my notes\n");
        Path dir = Files.createDirectories(tmp.resolve("dir.md"));
        Cli onDir = Cli.run("report", moe.toString(), "-o", dir.toString());
        assertThat(onDir.code()).isEqualTo(4);
        assertThat(onDir.errorLine()).contains("exists and is not a regular file");
        assertThat(tmp.resolve("dir-loss.png")).doesNotExist();
    }

    @Test
    void runsOfDifferentLengthsAreFlagged() throws IOException {
        // The dense run as it stood after 4 of its 6 steps: the same files, the metrics cut there.
        Path shortDense = Files.createDirectories(tmp.resolve("short"));
        try (var files = Files.list(dense)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, shortDense.resolve(f.getFileName()));
            }
        }
        Path metrics = shortDense.resolve("metrics.jsonl");
        Files.write(metrics, Files.readAllLines(metrics).stream()
                .filter(l -> l.matches("\\{\"step\":[1-4],.*")).toList());
        Path md = tmp.resolve("report.md");
        Cli r = Cli.run("report", dense.toString(), shortDense.toString(), "-o", md.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String tokens = "the runs differ in training tokens: " + dense + " 384, " + shortDense + " 256";
        assertThat(r.err()).isEqualTo("upcycle: warning: " + tokens + "\n");
        assertThat(Files.readString(md)).contains("**Not like for like:** " + tokens + ". ");
    }
}
