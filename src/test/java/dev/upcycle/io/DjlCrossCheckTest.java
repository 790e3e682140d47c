package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cross-check against an independent codec: DJL's safetensors encoder/decoder (PyTorch engine,
 * offline). DJL handles only F32/F16 reliably (docs/design.md, "Working with DJL"), so only those are
 * compared. If the engine cannot start this test fails with the reason; it is never skipped silently.
 */
class DjlCrossCheckTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void offline() {
        // Also set by surefire; repeated here so an IDE run never reaches the network.
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("OPT_OUT_TRACKING", "true");
    }

    private static float[] ramp(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i - n / 2) * scale;
        }
        return v;
    }

    @Test
    void djlDecodesWhatWeWrite() throws IOException {
        float[] a = ramp(24, 0.125f);
        float[] b = ramp(10, 3.5f);
        Path p = dir.resolve("ours.safetensors");
        SafetensorsWriter.write(p, List.of(new TensorSpec("a32", DType.F32, Shape.of(2, 3, 4)),
                new TensorSpec("b16", DType.F16, Shape.of(10))), Map.of(), (spec, sink) -> {
                    float[] v = spec.name().equals("a32") ? a : b;
                    sink.writeFloats(v, 0, v.length);
                });
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDList list = NDList.decode(m, Files.readAllBytes(p));
            Map<String, NDArray> byName = new HashMap<>();
            for (NDArray x : list) {
                byName.put(x.getName(), x);
            }
            assertThat(byName).containsOnlyKeys("a32", "b16");
            assertThat(byName.get("a32").getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(byName.get("a32").getShape().getShape()).containsExactly(2, 3, 4);
            assertThat(byName.get("a32").toFloatArray()).containsExactly(a);
            assertThat(byName.get("b16").getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(byName.get("b16").toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(b);
        }
    }

    @Test
    void weReadWhatDjlEncodes() throws IOException {
        float[] a = ramp(12, 0.75f);
        float[] b = ramp(6, -1.5f);
        byte[] bytes;
        try (NDManager m = NDManager.newBaseManager("PyTorch")) {
            NDArray x = m.create(a).reshape(3, 4);
            x.setName("x");
            NDArray y = m.create(b).toType(DataType.FLOAT16, false);
            y.setName("y");
            bytes = new NDList(x, y).encode(NDList.Encoding.SAFETENSORS);
        }
        Path p = Files.write(dir.resolve("djl.safetensors"), bytes);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.tensor("x").dtype()).isEqualTo(DType.F32);
            assertThat(f.tensor("x").shape()).isEqualTo(Shape.of(3, 4));
            assertThat(f.readFloats("x")).containsExactly(a);
            assertThat(f.tensor("y").dtype()).isEqualTo(DType.F16);
            assertThat(f.readFloats("y")).containsExactly(b);
        }
    }
}
