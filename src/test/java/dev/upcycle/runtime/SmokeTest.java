package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.model.FamilyRegistry;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void residentAndStreamingAgree() {
        Path dir = Path.of("test-fixtures/tiny-llama");
        int[] tokens = {1, 72, 101, 108, 108, 111, 32};
        float[][] a;
        long t0 = System.nanoTime();
        try (CausalLm lm = CausalLm.load(dir)) {
            a = lm.logits(tokens);
        }
        System.out.println("resident " + (System.nanoTime() - t0) / 1e6 + " ms");
        try (LayerStream s = LayerStream.open(dir, FamilyRegistry.builtIn(), List.of(tokens))) {
            while (s.hasNext()) {
                s.step();
            }
            float[] b = s.logits().get(0);
            double max = 0;
            for (int i = 0; i < tokens.length; i++) {
                for (int v = 0; v < 256; v++) {
                    max = Math.max(max, Math.abs(a[i][v] - b[i * 256 + v]));
                }
            }
            System.out.println("max diff " + max + " a00=" + a[0][0]);
            assertThat(max).isLessThan(1e-5);
        }
    }
}
