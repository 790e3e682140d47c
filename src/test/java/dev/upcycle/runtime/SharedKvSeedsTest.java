package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.TensorRef;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.testing.Cli;
import dev.upcycle.testing.RelativeError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * T20 (docs/design.md, "Invariants of attention experts and merges"): when the seeds share their key
 * and value projections, BAM with shared k/v computes the same logits as BAM with separate attention
 * experts (≤ 1e-5 relative in f32).
 */
class SharedKvSeedsTest {
    @TempDir
    Path tmp;

    /** A second seed: the tiny model with every tensor scaled by 1.1, k_proj and v_proj too unless {@code shareKv}. */
    private Path secondSeed(Path base, boolean shareKv) throws IOException {
        Path out = Files.createDirectories(tmp.resolve("seed1-" + shareKv));
        try (Checkpoint ckpt = Checkpoint.open(base)) {
            List<TensorSpec> specs = new ArrayList<>();
            for (TensorRef r : ckpt.tensors().values()) {
                specs.add(new TensorSpec(r.name(), r.header().dtype(), r.header().shape()));
            }
            Map<String, TensorRef> refs = ckpt.tensors();
            CheckpointWriter.write(out, specs, Long.MAX_VALUE, Map.of(), (spec, sink) -> {
                float[] v = refs.get(spec.name()).file().readFloats(spec.name());
                boolean kv = spec.name().contains("k_proj") || spec.name().contains("v_proj");
                if (!kv || !shareKv) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] *= 1.1f;
                    }
                }
                sink.writeFloats(v, 0, v.length);
            });
        }
        Files.copy(base.resolve("config.json"), out.resolve("config.json"));
        return out;
    }

    private Path merge(Path a, Path b, String variant) {
        Path out = tmp.resolve(variant + "-" + b.getFileName());
        int code = Cli.run("convert",
                a.toString(), b.toString(), "-o", out.toString(), "--attention", variant, "--top-k", "1",
                "--routing", "topk-softmax", "-q").code();
        assertThat(code).isZero();
        return out;
    }

    @Test
    void sharedKvEqualsSeparateWhenSeedsShareKv() throws IOException {
        assertThat(relDifference(true)).isLessThanOrEqualTo(1e-5);
    }

    /** Control: with different k/v per seed the variants do differ, so the equality above has teeth. */
    @Test
    void sharedKvDiffersFromSeparateWhenSeedsDoNot() throws IOException {
        assertThat(relDifference(false)).isGreaterThan(1e-3);
    }

    private double relDifference(boolean shareKv) throws IOException {
        Path base = Paths.get("test-fixtures/tiny-llama");
        Path other = secondSeed(base, shareKv);
        Path shared = merge(base, other, "moa-shared-kv");
        Path separate = merge(base, other, "moa-separate");
        int[] tokens = new int[48];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 37 + 11) % 256;
        }
        float[][] a;
        float[][] b;
        try (CausalLm lm = CausalLm.load(shared)) {
            a = lm.logits(tokens);
        }
        try (CausalLm lm = CausalLm.load(separate)) {
            b = lm.logits(tokens);
        }
        return RelativeError.of(a, b);
    }
}
