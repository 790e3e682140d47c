package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.upcycle.io.TensorRef;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.TensorRole;
import dev.upcycle.testing.Cli;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors read straight into libtorch memory hold the stored values, and a model held with
 * 16-bit matrices decodes as the FP32 load does.
 */
class NativeLoadTest {
    @TempDir
    Path tmp;

    private Path synth(String name, String dtype, String... extra) {
        Path out = tmp.resolve(name);
        String[] base = {"synth", "--family", "qwen3", "-o", out.toString(), "--hidden", "32", "--heads", "4",
            "--kv-heads", "2", "--head-dim", "8", "--intermediate", "48", "--vocab", "300", "--dtype", dtype,
            "--seed", "7"};
        String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        int code = Cli.run(args).code();
        assertThat(code).isZero();
        return out;
    }

    @Test
    void everyTensorArrivesWithItsStoredValues() {
        for (String dtype : new String[] {"f32", "bf16", "f16"}) {
            Path model = synth("m-" + dtype, dtype);
            try (WeightSource src = WeightSource.open(model, FamilyRegistry.builtIn());
                 NDManager m = Djl.newManager()) {
                for (TensorRef ref : src.checkpoint().tensors().values()) {
                    float[] expected = ref.file().readFloats(ref.name());
                    NDArray a = new NativeTensors().f32(m, ref);
                    assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
                    assertThat(a.getShape().getShape()).containsExactly(ref.header().shape().dims());
                    assertThat(a.toFloatArray()).as(dtype + " " + ref.name()).containsExactly(expected);
                }
            }
        }
    }

    /** Tensors split into many blocks (views of row ranges) and staging chunks arrive whole and in order. */
    @Test
    void blocksAndChunksCoverTheTensorExactly() {
        for (String dtype : new String[] {"f32", "bf16", "f16"}) {
            Path model = synth("b-" + dtype, dtype);
            try (WeightSource src = WeightSource.open(model, FamilyRegistry.builtIn());
                 NDManager m = Djl.newManager()) {
                NativeTensors small = new NativeTensors(200, 48);
                for (TensorRef ref : src.checkpoint().tensors().values()) {
                    float[] expected = ref.file().readFloats(ref.name());
                    assertThat(small.f32(m, ref).toFloatArray()).as(dtype + " " + ref.name()).containsExactly(expected);
                    NDArray half = small.f16OrNull(m, ref);
                    if (half != null) {
                        NDArray whole = new NativeTensors().f16OrNull(m, ref);
                        assertThat(half.toType(DataType.FLOAT32, true).toFloatArray())
                                .containsExactly(whole.toType(DataType.FLOAT32, true).toFloatArray());
                    }
                }
            }
        }
    }

    @Test
    void halfHoldingKeepsF16ExactlyAndRefusesValuesBeyondItsRange() {
        Path model = synth("h", "f16");
        try (WeightSource src = WeightSource.open(model, FamilyRegistry.builtIn()); NDManager m = Djl.newManager()) {
            NDArray q = src.compact(m, TensorRole.ATTN_Q, 0, -1);
            assertThat(q.getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(q.toType(DataType.FLOAT32, true).toFloatArray())
                    .containsExactly(src.floats(TensorRole.ATTN_Q, 0, -1));
            assertThat(src.compact(m, TensorRole.ATTN_NORM, 0, -1).getDataType()).isEqualTo(DataType.FLOAT32);
        }
    }

    /** Greedy ids and logits of the compact load equal the FP32 load's (FP16 exact, BF16 within FP32 noise). */
    @Test
    void compactModelsDecodeAsTheFp32Load() {
        for (String dtype : new String[] {"f32", "f16", "bf16"}) {
            Path model = synth("d-" + dtype, dtype, "--tie-embeddings");
            int[] prompt = {5, 17, 200, 3, 99};
            try (CausalLm full = CausalLm.load(model); CausalLm compact = CausalLm.load(model, null, true)) {
                assertThat(compact.generate(prompt, 12)).as(dtype).containsExactly(full.generate(prompt, 12));
                float[][] a = full.logits(prompt);
                float[][] b = compact.logits(prompt);
                for (int t = 0; t < a.length; t++) {
                    for (int v = 0; v < a[t].length; v++) {
                        assertThat(b[t][v]).as(dtype).isCloseTo(a[t][v], org.assertj.core.data.Offset.offset(
                                dtype.equals("bf16") ? 1e-5f : 0f));
                    }
                }
            }
        }
    }
}
