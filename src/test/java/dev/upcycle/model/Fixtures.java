package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.io.DType;
import dev.upcycle.io.Shape;
import dev.upcycle.io.TensorHeader;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Tiny configs and fake headers shared by the model tests. */
final class Fixtures {

    static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();
    static final ObjectMapper JSON = new ObjectMapper();

    private Fixtures() {
    }

    static Family family(String name) {
        return FAMILIES.byName(name);
    }

    /** V=128, d=64, f=160, 2 layers, 4 heads (hd 16), 2 kv heads; 4 experts top-2 for MoE families. */
    static ModelConfig.Builder tiny(String familyName) {
        Family f = family(familyName);
        ModelConfig.Builder b = ModelConfig.builder(f)
                .vocabSize(128).hiddenSize(64).intermediateSize(160).numHiddenLayers(2)
                .numAttentionHeads(4).numKeyValueHeads(2).rmsNormEps(1e-5);
        if (f.defaultValue("head_dim").isPresent()) {
            b.headDim(16);
        }
        if (f.moe()) {
            b.numExperts(4).numExpertsPerTok(2);
            if (f.keys().hasOwnExpertWidth()) {
                b.expertWidth(48);
            }
            if (f.keys().sharedExpertWidth() != null) {
                b.sharedExpertWidth(96);
            }
        }
        return b;
    }

    /** Headers exactly as the expected list says, contiguous, all in {@code dtype}. */
    static Map<String, TensorHeader> headers(List<ExpectedTensor> expected, DType dtype) {
        Map<String, TensorHeader> out = new LinkedHashMap<>();
        long offset = 0;
        for (ExpectedTensor e : expected) {
            long size = e.shape().byteSize(dtype, e.name());
            out.put(e.name(), new TensorHeader(e.name(), dtype, e.shape(), offset, offset + size));
            offset += size;
        }
        return out;
    }

    static TensorHeader header(String name, DType dtype, long... dims) {
        Shape s = Shape.of(dims);
        return new TensorHeader(name, dtype, s, 0, s.byteSize(dtype, name));
    }

    static JsonNode json(String text) {
        try {
            return JSON.readTree(text.replace('\'', '"'));
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    static Map<String, Shape> shapes(List<ExpectedTensor> expected) {
        Map<String, Shape> out = new LinkedHashMap<>();
        expected.forEach(e -> out.put(e.name(), e.shape()));
        return out;
    }
}
