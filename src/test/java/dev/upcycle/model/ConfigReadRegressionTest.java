package dev.upcycle.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Regressions found by the hostile corpus (issue 9) in reading config.json. */
class ConfigReadRegressionTest {
    @TempDir
    Path dir;

    private UpcycleException read(String text) throws IOException {
        Path f = Files.writeString(dir.resolve("config.json"), text);
        return catchThrowableOfType(UpcycleException.class, () -> ModelConfig.read(f, FamilyRegistry.builtIn()));
    }

    /** Was "not readable as JSON: JsonParseException: ... at [Source: REDACTED (`StreamReadFeature...". */
    @Test
    void parseErrorsSayWhatAndWhereWithoutJavaClassNames() throws IOException {
        UpcycleException e = read("{\"model_type\": \"llama\",\n \"hidden_size\": 1, \"hidden_size\": 2}");
        assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig);
        assertThat(e.why()).contains("key 'hidden_size' appears twice").contains("line 2")
                .doesNotContain("Exception").doesNotContain("REDACTED");
        e = read("{\"a\":" + "[".repeat(10_000) + "]".repeat(10_000) + "}");
        assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig);
        assertThat(e.why()).contains("nested more than").doesNotContain("Exception")
                .doesNotContain("StreamReadConstraints");
    }
}
