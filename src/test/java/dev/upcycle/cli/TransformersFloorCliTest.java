package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** convert records the oldest transformers release that loads its output exactly, and says when a feature raises it. */
class TransformersFloorCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path synth(String name, String... extra) {
        Path out = tmp.resolve(name);
        String[] base = {"synth", "-o", out.toString(), "-q", "--hidden", "64", "--heads", "4", "--kv-heads", "2"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        Cli r = Cli.run(args);
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    private static JsonNode floorIn(Path out) throws IOException {
        return JSON.readTree(out.resolve("upcycle.json").toFile()).get("plan").get("transformers");
    }

    private static String card(Path out) throws IOException {
        return Files.readString(out.resolve("README.md"), StandardCharsets.UTF_8);
    }

    @Test
    void aQwen2SourceWithItsOwnHeadDimNeedsTransformers453AsQwen2Moe() throws IOException {
        Path src = synth("qwen2", "--family", "qwen2", "--head-dim", "32");
        Path out = tmp.resolve("moe");
        Cli r = Cli.run("convert", src.toString(), "-o", out.toString(), "--target", "qwen2-moe", "--routing",
                "topk-softmax", "--experts", "4");
        assertThat(r.code()).as(r.err()).isZero();
        String line = "loads exactly in transformers >= 4.53 (Qwen2-MoE reads head_dim only from 4.53)";
        assertThat(r.err().lines()).contains("upcycle: note: " + line);
        assertThat(card(out)).contains("| loads exactly in transformers | >= 4.53 (Qwen2-MoE reads head_dim only from 4.53) |");
        JsonNode f = floorIn(out);
        assertThat(f.get("min_version").asText()).isEqualTo("4.53");
        assertThat(f.get("reasons").get(0).asText()).isEqualTo("Qwen2-MoE reads head_dim only from 4.53");
        // The dry run says it too.
        Cli dry = Cli.run("convert", src.toString(), "--target", "qwen2-moe", "--routing", "topk-softmax",
                "--experts", "4", "--dry-run");
        assertThat(dry.out()).contains("transformers: " + line);
    }

    @Test
    void aPlainLlamaAsMixtralNeedsOnlyMixtralsFirstReleaseAndConvertSaysNothing() throws IOException {
        Path src = synth("llama", "--family", "llama");
        Path out = tmp.resolve("mixtral");
        Cli r = Cli.run("convert", src.toString(), "-o", out.toString(), "--routing", "topk-softmax", "--experts", "4");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("transformers");
        assertThat(card(out)).contains("| loads exactly in transformers | >= 4.36 |");
        JsonNode f = floorIn(out);
        assertThat(f.get("min_version").asText()).isEqualTo("4.36");
        assertThat(f.get("reasons")).isEmpty();
    }

    @Test
    void theNativeFormatIsNotLoadableByTransformers() throws IOException {
        Path src = synth("seed", "--family", "llama");
        Path out = tmp.resolve("moa");
        Cli r = Cli.run("convert", src.toString(), "-o", out.toString(), "--attention", "moa-shared-kv",
                "--attention-experts", "2", "--experts", "2", "--routing", "topk-softmax");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(card(out)).contains("| loads exactly in transformers | not loadable (native format) |");
        JsonNode f = floorIn(out);
        assertThat(f.get("min_version").isNull()).isTrue();
        assertThat(f.get("reasons").get(0).asText()).contains("not loadable by transformers");
    }
}
