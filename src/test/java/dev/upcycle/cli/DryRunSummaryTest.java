package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convert --dry-run}: a short summary by default, the tensor table with {@code --tensors}, the
 * attention-expert accounting only when attention experts are asked for, one parameter total, and
 * the whole plan with {@code --json}.
 */
class DryRunSummaryTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path models;
    static Path llama;

    @BeforeAll
    static void synth() {
        llama = models.resolve("llama");
        assertThat(Cli.run("synth", "--family", "llama", "-o", llama.toString(), "-q").code()).isZero();
    }

    @Test
    void theDefaultIsASummaryWithTheVerdictFirst() {
        Cli r = Cli.run("convert", llama.toString(), "--dry-run");
        assertThat(r.code()).as(r.err()).isZero();
        String[] lines = r.out().split("\n");
        assertThat(lines[0]).startsWith("plan: llama -> mixtral (MixtralForCausalLM), E8G1T2");
        assertThat(lines[1]).isEqualTo("step 0: exact");
        assertThat(r.out()).contains("parameters: ", " active per token", "forward FLOPs per token: ",
                "output: ", "model.safetensors (", "transformers: ", "--tensors lists each");
        assertThat(r.out()).doesNotContain("accounting", "bam-separate", "block_sparse_moe.experts.3.w2.weight");
        assertThat(lines.length).isLessThan(25);
    }

    @Test
    void tensorsListsEveryTensor() throws IOException {
        Cli r = Cli.run("convert", llama.toString(), "--dry-run", "--tensors");
        assertThat(r.code()).as(r.err()).isZero();
        int tensors = JSON.readTree(Cli.run("convert", llama.toString(), "--dry-run", "--json").out())
                .get("tensors").size();
        assertThat(r.out()).contains("model.layers.1.block_sparse_moe.experts.3.w2.weight");
        assertThat(r.out().lines().filter(l -> l.startsWith("model.") || l.startsWith("lm_head")).count())
                .isEqualTo(tensors);
    }

    @Test
    void oneParameterTotalEvenWhereTheFormulaDiffers() throws IOException {
        // qwen2-moe adds q/k/v biases and a width-1 shared expert, which the formula leaves out: only the
        // plan's own count is printed.
        Cli j = Cli.run("convert", llama.toString(), "--dry-run", "--json", "--routing", "softmax-topk");
        JsonNode doc = JSON.readTree(j.out());
        long total = doc.at("/parameters/total").asLong();
        long formula = doc.at("/accounting/1/parameters/total").asLong();
        assertThat(formula).isNotEqualTo(total);
        Cli r = Cli.run("convert", llama.toString(), "--dry-run", "--routing", "softmax-topk");
        assertThat(r.out()).contains(String.format(Locale.ROOT, "parameters: %,d total", total))
                .doesNotContain(String.format(Locale.ROOT, "%,d", formula));
        // The approximate verdict is one line, its reasons are behind -v.
        assertThat(r.out()).contains("step 0: approximate: softmax-topk").doesNotContain("sigma_l");
        Cli v = Cli.run("convert", llama.toString(), "--dry-run", "--routing", "softmax-topk", "-v");
        assertThat(v.out()).contains("step 0: approximate (With softmax-topk routing", "sigma_l");
    }

    @Test
    void theAttentionExpertAccountingShowsOnlyWhenAsked() {
        Cli r = Cli.run("convert", llama.toString(), "--dry-run", "--attention", "moa-separate");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("accounting by formula", "ffn-moe", "bam-separate", "bam-shared_kv");
    }
}
