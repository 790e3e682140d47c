package dev.upcycle.model;

import static dev.upcycle.model.Fixtures.header;
import static dev.upcycle.model.Fixtures.headers;
import static dev.upcycle.model.Fixtures.tiny;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorHeader;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelDescriptionTest {

    private static ModelDescription describe(ModelConfig c, Map<String, TensorHeader> found) {
        return ModelDescription.of(c.family(), c, found);
    }

    private static Map<String, TensorHeader> exact(ModelConfig c) {
        return headers(c.expectedTensors(), DType.BF16);
    }

    @Test
    void exactCheckpointHasNoFindingsForEveryFamily() {
        for (Family f : Fixtures.FAMILIES.all()) {
            ModelConfig c = tiny(f.name()).build();
            ModelDescription d = describe(c, exact(c));
            assertThat(d.check()).as(f.name()).isEmpty();
            d.throwIfInvalid();
            assertThat(d.tiedHeadNeedsByteCheck()).isFalse();
        }
    }

    @Test
    void missingTensor() {
        ModelConfig c = tiny("llama").build();
        Map<String, TensorHeader> found = exact(c);
        found.remove("model.layers.1.mlp.up_proj.weight");
        found.remove("lm_head.weight");
        assertThat(describe(c, found).check())
                .extracting(Finding::severity, Finding::kind, Finding::tensor)
                .containsExactly(tuple(Severity.ERROR, ErrorKind.MissingTensor, "model.layers.1.mlp.up_proj.weight"),
                        tuple(Severity.ERROR, ErrorKind.MissingTensor, "lm_head.weight"));
    }

    @Test
    void unexpectedTensorsIncludingLayersPastTheEnd() {
        ModelConfig c = tiny("mixtral").build();
        Map<String, TensorHeader> found = exact(c);
        found.put("model.layers.2.input_layernorm.weight", header("model.layers.2.input_layernorm.weight", DType.BF16, 64));
        String expert4 = "model.layers.0.block_sparse_moe.experts.4.w1.weight";
        found.put(expert4, header(expert4, DType.BF16, 160, 64));
        found.put("vision_tower.weight", header("vision_tower.weight", DType.BF16, 3));
        List<Finding> findings = describe(c, found).check();
        assertThat(findings).extracting(Finding::kind).containsOnly(ErrorKind.UnexpectedTensor);
        assertThat(findings).extracting(Finding::tensor)
                .containsExactly(expert4, "model.layers.2.input_layernorm.weight", "vision_tower.weight");
        assertThat(findings.get(1).message()).contains("num_hidden_layers = 2");
        assertThat(findings.get(0).message()).contains("4 experts");
    }

    @Test
    void denseMlpInASparseLayerIsUnexpected() {
        ModelConfig c = tiny("qwen2_moe").build();
        Map<String, TensorHeader> found = exact(c);
        found.put("model.layers.0.mlp.gate_proj.weight", header("model.layers.0.mlp.gate_proj.weight", DType.BF16, 160, 64));
        assertThat(describe(c, found).check()).singleElement()
                .satisfies(f -> {
                    assertThat(f.kind()).isEqualTo(ErrorKind.UnexpectedTensor);
                    assertThat(f.message()).contains("dense_layer");
                });
    }

    @Test
    void shapeMismatchSaysExpectedAndFound() {
        ModelConfig c = tiny("qwen3").build();
        Map<String, TensorHeader> found = exact(c);
        String q = "model.layers.0.self_attn.q_proj.weight";
        found.put(q, header(q, DType.BF16, 4 * 128, 64));
        found.put("model.embed_tokens.weight", header("model.embed_tokens.weight", DType.BF16, 127, 64));
        List<Finding> findings = describe(c, found).check();
        assertThat(findings).extracting(Finding::kind).containsOnly(ErrorKind.ShapeMismatch);
        assertThat(findings.get(0).tensor()).isEqualTo("model.embed_tokens.weight");
        assertThat(findings.get(0).message()).isEqualTo("expected shape [128, 64], found [127, 64]");
        assertThat(findings.get(1).message()).isEqualTo("expected shape [64, 64], found [512, 64]");
    }

    @Test
    void biasPresentWithoutFlagOrMissingWithIt() {
        ModelConfig c = tiny("llama").build();
        Map<String, TensorHeader> found = exact(c);
        String qBias = "model.layers.0.self_attn.q_proj.bias";
        found.put(qBias, header(qBias, DType.BF16, 64));
        assertThat(describe(c, found).check()).singleElement().satisfies(f -> {
            assertThat(f.kind()).isEqualTo(ErrorKind.ConfigConflict);
            assertThat(f.message()).contains("attention_bias");
        });

        ModelConfig biased = tiny("llama").attentionBias(true).build();
        Map<String, TensorHeader> noBias = exact(biased);
        noBias.remove("model.layers.1.self_attn.o_proj.bias");
        assertThat(describe(biased, noBias).check()).singleElement()
                .extracting(Finding::kind, Finding::tensor)
                .containsExactly(ErrorKind.ConfigConflict, "model.layers.1.self_attn.o_proj.bias");

        // Mistral has no bias templates at all; a bias beside a known weight is still a bias conflict.
        ModelConfig mistral = tiny("mistral").build();
        Map<String, TensorHeader> m = exact(mistral);
        String vBias = "model.layers.1.self_attn.v_proj.bias";
        m.put(vBias, header(vBias, DType.BF16, 32));
        assertThat(describe(mistral, m).check()).extracting(Finding::kind).containsExactly(ErrorKind.ConfigConflict);

        // Qwen2's q/k/v biases are part of the family: missing is a plain MissingTensor.
        ModelConfig qwen2 = tiny("qwen2").build();
        Map<String, TensorHeader> q = exact(qwen2);
        q.remove("model.layers.0.self_attn.k_proj.bias");
        assertThat(describe(qwen2, q).check()).extracting(Finding::kind).containsExactly(ErrorKind.MissingTensor);
    }

    @Test
    void tiedHeadPresent() {
        ModelConfig c = tiny("qwen2").tieWordEmbeddings(true).build();
        Map<String, TensorHeader> found = exact(c);
        found.put("lm_head.weight", header("lm_head.weight", DType.BF16, 128, 64));
        ModelDescription d = describe(c, found);
        assertThat(d.check()).singleElement().satisfies(f -> {
            assertThat(f.severity()).isEqualTo(Severity.WARNING);
            assertThat(f.kind()).isEqualTo(ErrorKind.ConfigConflict);
            assertThat(f.tensor()).isEqualTo("lm_head.weight");
        });
        assertThat(d.tiedHeadNeedsByteCheck()).isTrue();
        d.throwIfInvalid();

        found.put("lm_head.weight", header("lm_head.weight", DType.BF16, 64, 64));
        ModelDescription wrong = describe(c, found);
        assertThat(wrong.check()).extracting(Finding::severity, Finding::kind)
                .containsExactly(tuple(Severity.ERROR, ErrorKind.ConfigConflict));
        assertThat(wrong.tiedHeadNeedsByteCheck()).isFalse();
    }

    @Test
    void invFreqIsAWarning() {
        ModelConfig c = tiny("llama").build();
        Map<String, TensorHeader> found = exact(c);
        String inv = "model.layers.0.self_attn.rotary_emb.inv_freq";
        found.put(inv, header(inv, DType.F32, 8));
        assertThat(describe(c, found).check()).singleElement()
                .extracting(Finding::severity, Finding::kind, Finding::tensor)
                .containsExactly(Severity.WARNING, ErrorKind.UnexpectedTensor, inv);
    }

    @Test
    void mixedDtypesWarnAndIntegerWeightsFail() {
        ModelConfig c = tiny("llama").build();
        Map<String, TensorHeader> found = exact(c);
        found.put("model.norm.weight", header("model.norm.weight", DType.F32, 64));
        ModelDescription d = describe(c, found);
        assertThat(d.check()).singleElement()
                .extracting(Finding::severity, Finding::tensor)
                .containsExactly(Severity.WARNING, "model.norm.weight");
        assertThat(d.dtypes()).containsOnlyKeys(DType.F32, DType.BF16).containsEntry(DType.F32, 64L);

        found.put("model.norm.weight", header("model.norm.weight", DType.I8, 64));
        assertThat(describe(c, found).check()).extracting(Finding::kind).containsExactly(ErrorKind.UnsupportedDtype);
    }

    @Test
    void throwIfInvalidNamesTheFirstTensorAndCountsTheRest() {
        ModelConfig c = tiny("llama").build();
        Map<String, TensorHeader> found = exact(c);
        found.remove("model.embed_tokens.weight");
        found.remove("model.norm.weight");
        found.put("extra.weight", header("extra.weight", DType.BF16, 1));
        assertThatThrownBy(() -> describe(c, found).throwIfInvalid())
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.MissingTensor);
                    assertThat(e.where()).isEqualTo("tensor model.embed_tokens.weight");
                    assertThat(e.why()).endsWith("(and 2 further problems)");
                });
    }

    @Test
    void parameterCountsOfASmallMixtral() {
        // V 100, d 16, f 32, 2 layers, h 4 (hd 4), kv 2, 4 experts, top-2, untied
        ModelConfig c = ModelConfig.builder(Fixtures.family("mixtral")).vocabSize(100).hiddenSize(16)
                .intermediateSize(32).numHiddenLayers(2).numAttentionHeads(4).numKeyValueHeads(2)
                .numExperts(4).numExpertsPerTok(2).build();
        long embed = 100 * 16;
        long head = 100 * 16;
        long finalNorm = 16;
        long attention = 16 * 16 + 8 * 16 + 8 * 16 + 16 * 16; // q, k, v, o
        long norms = 2 * 16;
        long router = 4 * 16;
        long expert = 3 * 32 * 16; // w1, w3 [f, d] and w2 [d, f]
        long total = embed + head + finalNorm + 2 * (attention + norms + router + 4 * expert);
        long active = embed + head + finalNorm + 2 * (attention + norms + router + 2 * expert);
        assertThat(total).isEqualTo(17232);
        assertThat(active).isEqualTo(11088);
        ModelDescription d = describe(c, exact(c));
        assertThat(d.totalParameters()).isEqualTo(total);
        assertThat(d.activeParameters()).isEqualTo(active);
        assertThat(d.dtypes()).containsExactly(Map.entry(DType.BF16, total));

        ModelConfig dense = tiny("llama").build();
        ModelDescription dd = describe(dense, exact(dense));
        assertThat(dd.activeParameters()).isEqualTo(dd.totalParameters());
    }

    @Test
    void qwen2MoeActiveCountsSharedExpertAndDenseLayers() {
        ModelConfig c = tiny("qwen2_moe").numHiddenLayers(2).decoderSparseStep(2).build(); // layer 0 dense, 1 sparse
        ModelDescription d = describe(c, exact(c));
        long expert = 3 * 48 * 64;
        assertThat(d.totalParameters() - d.activeParameters()).isEqualTo(2 * expert); // 4 experts, top-2, one layer
    }
}
