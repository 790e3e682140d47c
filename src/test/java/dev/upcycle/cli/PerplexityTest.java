package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

/** Perplexity as eval prints it: short for a random model's huge values, and a JSON number. */
class PerplexityTest {
    @Test
    void smallValuesPrintPlainly() {
        assertThat(Perplexity.text(2.0)).isEqualTo("7.389");
        assertThat(Perplexity.json(2.0).doubleValue()).isEqualTo(Math.exp(2.0));
        assertThat(Perplexity.text(13.8)).isEqualTo("984609.111");
    }

    @Test
    void hugeValuesPrintWithFourSignificantDigits() {
        // A random Qwen3-0.6B-shaped model's loss; the old output was a 90-digit number.
        assertThat(Perplexity.text(198.7582)).isEqualTo("2.087e+86");
        assertThat(Perplexity.text(Math.log(2e6))).isEqualTo("2.000e+6");
        assertThat(Perplexity.text(Math.log(9.99996e7))).isEqualTo("1.000e+8");
        // Past what a double holds: still a number.
        assertThat(Perplexity.text(1000)).isEqualTo("1.970e+434");
        assertThat(Perplexity.text(Double.POSITIVE_INFINITY)).isEqualTo("infinite");
        assertThat(Perplexity.text(Double.NaN)).isEqualTo("NaN");
    }

    @Test
    void jsonIsAlwaysANumberOrNull() throws Exception {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("a", Perplexity.json(198.7582));
        o.put("b", Perplexity.json(1000));
        o.put("c", Perplexity.json(Double.NaN));
        String text = Json.pretty(o);
        assertThat(text).contains("2.087E+86").contains("1.970E+434").doesNotContain("Infinity");
        var back = new ObjectMapper().readTree(text);
        assertThat(back.get("a").isNumber()).isTrue();
        assertThat(back.get("a").asDouble()).isEqualTo(2.087e86);
        assertThat(back.get("b").isNumber()).isTrue();
        assertThat(back.get("c").isNull()).isTrue();
    }
}
