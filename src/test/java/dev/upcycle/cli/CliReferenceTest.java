package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The committed CLI reference, docs/cli/*.adoc, is what picocli generates from today's commands. */
class CliReferenceTest {
    private static final Path DOCS = Path.of("docs/cli");
    private static final String HINT = "docs/cli is out of date: run scripts/cli-reference and commit the pages";

    @Test
    void theCommittedPagesAreUpToDate(@TempDir Path tmp) throws IOException {
        CliReference.write(tmp);
        List<String> generated = pages(tmp);
        assertThat(generated).contains("upcycle.adoc", "upcycle-convert.adoc", "upcycle-train.adoc");
        assertThat(pages(DOCS)).as(HINT).isEqualTo(generated);
        for (String page : generated) {
            assertThat(Files.readString(DOCS.resolve(page))).as(HINT + " (" + page + ")")
                    .isEqualTo(Files.readString(tmp.resolve(page)));
        }
    }

    @Test
    void theDocsIndexLinksEveryPage() throws IOException {
        String index = Files.readString(Path.of("docs/README.md"));
        for (String page : pages(DOCS)) {
            assertThat(index).contains("(cli/" + page + ")");
        }
    }

    private static List<String> pages(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".adoc")).sorted().toList();
        }
    }
}
