package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The messages a user meets first: suggestions for typos, every recipe error at once, honest hints. */
class MessagesTest {
    private static final String TINY = "test-fixtures/tiny-llama";

    @TempDir
    Path tmp;

    @Test
    void aMistypedCommandProposesTheCommand() {
        Cli r = Cli.run("conver", "x");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).isEqualTo("upcycle: UsageError : upcycle : unknown command 'conver'; did you mean convert?");
    }

    @Test
    void aMistypedOptionProposesTheOption() {
        Cli r = Cli.run("convert", "x", "--expert", "4");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).isEqualTo(
                "upcycle: UsageError : upcycle convert : Unknown option: '--expert'; did you mean --experts?");
        assertThat(r.err().lines().toList()).hasSize(2);
    }

    @Test
    void aMistypedValueProposesTheValue() {
        Cli r = Cli.run("convert", TINY, "--routing", "topk-sofmax", "--dry-run");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).endsWith("; did you mean topk-softmax?");
        Cli far = Cli.run("convert", TINY, "--routing", "zzz", "--dry-run");
        assertThat(far.errorLine()).doesNotContain("did you mean");
    }

    @Test
    void synthListsOnlyTheFamiliesItCanWrite() {
        Cli r = Cli.run("synth", "--family", "lama", "-o", tmp.resolve("x").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errorLine()).isEqualTo(
                "upcycle: InvalidOption : --family : \"lama\" is not one of llama, mistral, qwen2, qwen3; did you mean llama?");
        Cli moe = Cli.run("synth", "--family", "mixtral", "-o", tmp.resolve("y").toString());
        assertThat(moe.code()).isEqualTo(2);
        assertThat(moe.errorLine()).doesNotContain("upcycle_moa").doesNotContain("qwen2_moe");
    }

    @Test
    void recipeValidationReportsEveryErrorAndProposesKeys() throws IOException {
        Path r = Files.writeString(tmp.resolve("r.yaml"), """
                steps:
                  - inspect: {path: x, colour: blue}
                  - convert: {inputs: x, top_k: 2}
                  - verfy: {dir: x}
                """);
        Cli c = Cli.run("run", r.toString());
        assertThat(c.code()).isEqualTo(3);
        assertThat(c.err().lines().filter(l -> l.startsWith("upcycle: InvalidRecipe : ")).toList()).hasSize(3);
        assertThat(c.err()).contains("step 1 (inspect) key 'colour' : unknown key")
                .contains("step 2 (convert) key 'top_k' : unknown key; did you mean top-k;")
                .contains("step 3 (verfy) : unknown command 'verfy'; did you mean verify;");
        assertThat(c.out()).isEmpty();
    }

    @Test
    void aSetThatNoStepUsesIsAnError() throws IOException {
        Path r = Files.writeString(tmp.resolve("r.yaml"), "vars: {model: x}\nsteps:\n  - inspect: {path: \"${model}\"}\n");
        Cli c = Cli.run("run", r.toString(), "--set", "modle=y");
        assertThat(c.code()).isEqualTo(2);
        assertThat(c.errorLine()).isEqualTo(
                "upcycle: InvalidOption : --set modle : no recipe uses ${modle}; did you mean model?");
    }

    @Test
    void anUnwritableOutputNamesTheOutputNotTheLockFileOrAJavaException() {
        Cli r = Cli.run("convert", TINY, "-o", "/proc/x");
        assertThat(r.code()).isEqualTo(4);
        assertThat(r.errorLine()).startsWith("upcycle: IoError : /proc/x : cannot create files in /proc")
                .doesNotContain("Exception").doesNotContain("upcycle-lock");
    }

    @Test
    void existingDirectoryNotOursSaysForceWouldNotHelp() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(out.resolve("notes.txt"), "x");
        Cli r = Cli.run("convert", TINY, "-o", out.toString());
        assertThat(r.code()).isEqualTo(4);
        assertThat(r.errorLine()).contains("--force would not replace it");
        assertThat(r.err()).doesNotContain("pass --force");
    }

    @Test
    void theConvertSummaryGivesSizeAndTimeAndNamesAttentionExperts() {
        Cli ffn = Cli.run("convert", TINY, "-o", tmp.resolve("ffn").toString(), "--routing", "topk-softmax");
        assertThat(ffn.code()).as(ffn.err()).isZero();
        assertThat(ffn.out()).matches("(?s)wrote .*: mixtral E8G1T2, [0-9,]+ parameters \\([0-9,]+ active\\), step 0 exact; "
                + "[0-9.]+ (KB|MB) in [0-9]+\\.[0-9] s\n").doesNotContain("attention");
        Cli moa = Cli.run("convert", TINY, "-o", tmp.resolve("moa").toString(), "--routing", "topk-softmax",
                "--attention", "moa-shared-kv", "--attention-experts", "4");
        assertThat(moa.code()).as(moa.err()).isZero();
        assertThat(moa.out()).contains("with 4 attention experts (moa-shared-kv)");
    }

    @Test
    void verifyAcceptsASingleSafetensorsFile() {
        Cli r = Cli.run("verify", TINY + "/model.safetensors");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("PASS  headers").contains("PASS  finite").contains("SKIP  manifest")
                .doesNotContain("functional");
        Cli against = Cli.run("verify", TINY + "/model.safetensors", "--against", TINY);
        assertThat(against.code()).isEqualTo(2);
    }
}
