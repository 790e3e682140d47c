package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.testing.Cli;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A loss means one thing everywhere: train's eval of its validation data and {@code eval} of the
 * trained model on the same text, with the same sequence length and token count, agree; and both
 * commands default to the same sequence length, printed next to the loss.
 */
class LossAgreementTest {
    @TempDir
    Path tmp;

    @Test
    void trainsEvalLossIsEvalsLossAndTheDefaultSequenceLengthIsShared() throws Exception {
        Path out = tmp.resolve("run");
        Cli t = Cli.run("train", "test-fixtures/tiny-llama", "--data", "test-fixtures/corpus/train.txt",
                "--eval-data", "test-fixtures/corpus/valid.txt", "--eval-tokens", "100", "--steps", "2",
                "--batch", "2", "--save-every", "0", "-o", out.toString(), "--json");
        assertThat(t.code()).as(t.out() + t.err()).isZero();
        var trained = new ObjectMapper().readTree(t.out());
        double trainEval = trained.at("/eval_loss").asDouble(Double.NaN);
        assertThat(trained.at("/config/seq_len").asInt()).isEqualTo(Integer.parseInt(Options.SEQ_LEN));

        Cli e = Cli.run("eval", out.toString(), "--data", "test-fixtures/corpus/valid.txt", "--max-tokens", "100",
                "--json");
        assertThat(e.code()).as(e.out() + e.err()).isZero();
        var evaluated = new ObjectMapper().readTree(e.out());
        assertThat(evaluated.at("/seq_len").asInt()).isEqualTo(Integer.parseInt(Options.SEQ_LEN));
        assertThat(evaluated.at("/tokens").asLong()).isEqualTo(100);
        assertThat(evaluated.at("/loss").asDouble()).isCloseTo(trainEval, within(1e-5));

        Cli text = Cli.run("eval", out.toString(), "--data", "test-fixtures/corpus/valid.txt", "--max-tokens", "512");
        assertThat(text.out()).contains("at seq-len " + Options.SEQ_LEN);
    }
}
