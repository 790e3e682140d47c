package dev.upcycle.data;

import static org.assertj.core.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * The real Llama 3 and Qwen3 {@code tokenizer.json} files that {@code scripts/fetch-tokenizers}
 * caches outside the repository (provenance in test-fixtures/README.md). Found through the system
 * property {@code upcycle.tokenizers}, else {@code $UPCYCLE_TOKENIZERS} (set by scripts/test),
 * else the script's default cache. When they are missing, a test using them fails under CI
 * ({@code CI=true}, where the script runs before Maven) and is skipped elsewhere, with a message.
 */
public enum RealTokenizers {
    LLAMA3("llama3", 128_256),
    QWEN3("qwen3", 151_669);

    private final String dir;
    private final int ids;

    RealTokenizers(String dir, int ids) {
        this.dir = dir;
        this.ids = ids;
    }

    /** Token ids the tokenizer can produce: its largest id (an added token) + 1. */
    public int ids() {
        return ids;
    }

    /** The {@code tokenizer.json}, or a failed (CI) or skipped (elsewhere) test when it is not there. */
    public Path tokenizerJson() {
        Path file = root().resolve(dir).resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            String why = "the real " + dir + " tokenizer is not at " + file + "; run scripts/fetch-tokenizers "
                    + "(scripts/test does) or set UPCYCLE_TOKENIZERS to its output directory";
            if ("true".equals(System.getenv("CI"))) {
                fail(why);
            }
            Assumptions.abort(why);
        }
        return file;
    }

    static Path root() {
        String prop = System.getProperty("upcycle.tokenizers");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String env = System.getenv("UPCYCLE_TOKENIZERS");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String cache = System.getenv("UPCYCLE_CACHE");
        return (cache != null && !cache.isBlank() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache",
                "upcycle")).resolve("tokenizers");
    }
}
