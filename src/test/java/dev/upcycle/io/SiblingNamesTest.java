package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 14: an output name near the 255-byte limit left no room for the lock and staging names. */
class SiblingNamesTest {
    @TempDir
    Path tmp;

    @Test
    void usualNamesAreKeptWhole() {
        assertThat(SiblingNames.prefix(tmp.resolve("out"))).isEqualTo(".out.upcycle-");
        assertThat(OutputLock.fileFor(tmp.resolve("out")).getFileName().toString()).isEqualTo(".out.upcycle-lock");
    }

    @Test
    void longNamesAreShortenedStablyAndDistinctly() {
        String a = "a".repeat(250);
        String b = "a".repeat(249) + "b";
        String multibyte = "\u00e9".repeat(127); // 254 bytes
        for (String name : new String[] {a, b, multibyte}) {
            String lock = SiblingNames.sibling(tmp.resolve(name), "trash-0123456789ab").getFileName().toString();
            assertThat(lock.getBytes(StandardCharsets.UTF_8).length).as(name).isLessThanOrEqualTo(255);
            assertThat(SiblingNames.prefix(tmp.resolve(name))).isEqualTo(SiblingNames.prefix(tmp.resolve(name)));
        }
        assertThat(SiblingNames.prefix(tmp.resolve(a))).isNotEqualTo(SiblingNames.prefix(tmp.resolve(b)));
        assertThat(SiblingNames.stem(multibyte)).doesNotContain("\ufffd");
    }

    @Test
    void anOutputWithA250ByteNameIsWrittenAndLeavesNothingBeside() throws Exception {
        Path out = tmp.resolve("m".repeat(250));
        Cli run = Cli.run("synth", "--family", "llama",
                "-o", out.toString(), "--layers", "1", "--hidden", "8", "--heads", "2", "--kv-heads", "1",
                "--intermediate", "8", "--vocab", "16", "--quiet");
        assertThat(run.code()).as(run.err()).isZero();
        assertThat(out.resolve("config.json")).exists();
        try (var s = Files.list(tmp)) {
            assertThat(s.toList()).containsExactly(out);
        }
    }
}
