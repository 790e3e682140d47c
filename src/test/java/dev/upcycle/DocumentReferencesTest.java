package dev.upcycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No help text, message, comment, recipe or page sends a reader to a document the repository
 * does not contain, and every Markdown link to a page of docs/ names a file that exists.
 */
class DocumentReferencesTest {
    private static final Path ROOT = Paths.get("").toAbsolutePath();
    private static final List<String> SCANNED = List.of("src", "docs", "recipes", "scripts", "examples",
            "test-fixtures", "README.md", "pom.xml", ".ci");
    private static final Pattern TEXT_FILE = Pattern.compile(".*\\.(java|md|yaml|yml|json|xml|sh|txt)$|.*/scripts/[^/.]+$"
            + "|.*/\\.ci/run$");
    /** Notes that were never part of the repository, by name. */
    private static final Pattern FOREIGN = Pattern.compile(
            "(?<![\\w/.-])(upcycling|bam|cli|djl-notes|style)\\.md|specs/|(?<![\\w/.\\[(-])formats\\.md");
    private static final Pattern DOCS_LINK = Pattern.compile("docs/([\\w.-]+\\.md)");

    @Test
    void noReferenceToADocumentTheRepositoryLacks() throws IOException {
        List<String> found = new ArrayList<>();
        for (Path file : files()) {
            String text = Files.readString(file, StandardCharsets.ISO_8859_1);
            String[] lines = text.split("\n", -1);
            for (int i = 0; i < lines.length; i++) {
                Matcher m = FOREIGN.matcher(lines[i]);
                if (m.find()) {
                    found.add(ROOT.relativize(file) + ":" + (i + 1) + ": " + lines[i].strip());
                }
                Matcher d = DOCS_LINK.matcher(lines[i]);
                while (d.find()) {
                    if (!Files.isRegularFile(ROOT.resolve("docs").resolve(d.group(1)))) {
                        found.add(ROOT.relativize(file) + ":" + (i + 1) + ": no such page docs/" + d.group(1));
                    }
                }
            }
        }
        assertThat(found).as("references to documents the repository does not contain").isEmpty();
    }

    private static List<Path> files() throws IOException {
        List<Path> out = new ArrayList<>();
        for (String top : SCANNED) {
            Path p = ROOT.resolve(top);
            if (Files.isRegularFile(p)) {
                out.add(p);
            } else if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.walk(p)) {
                    s.filter(Files::isRegularFile)
                            .filter(f -> TEXT_FILE.matcher(f.toString()).matches())
                            .filter(f -> !f.endsWith("DocumentReferencesTest.java"))
                            .forEach(out::add);
                }
            }
        }
        assertThat(out).as("files scanned").hasSizeGreaterThan(100);
        return out;
    }
}
