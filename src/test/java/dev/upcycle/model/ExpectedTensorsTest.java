package dev.upcycle.model;

import static dev.upcycle.model.Fixtures.FAMILIES;
import static dev.upcycle.model.Fixtures.shapes;
import static dev.upcycle.model.Fixtures.tiny;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.io.Shape;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Names and shapes against docs/formats.md ("Source families", "Output families") for a tiny
 * config: V 128, d 64, f 160, h 4, kv 2, hd 16.
 */
class ExpectedTensorsTest {

    private static final String L0 = "model.layers.0.";
    private static final String L1 = "model.layers.1.";

    @Test
    void llamaDenseLayoutInStateDictOrder() {
        List<ExpectedTensor> e = tiny("llama").build().expectedTensors();
        assertThat(e).extracting(ExpectedTensor::name).containsExactly(
                "model.embed_tokens.weight",
                L0 + "self_attn.q_proj.weight", L0 + "self_attn.k_proj.weight", L0 + "self_attn.v_proj.weight",
                L0 + "self_attn.o_proj.weight", L0 + "mlp.gate_proj.weight", L0 + "mlp.up_proj.weight",
                L0 + "mlp.down_proj.weight", L0 + "input_layernorm.weight", L0 + "post_attention_layernorm.weight",
                L1 + "self_attn.q_proj.weight", L1 + "self_attn.k_proj.weight", L1 + "self_attn.v_proj.weight",
                L1 + "self_attn.o_proj.weight", L1 + "mlp.gate_proj.weight", L1 + "mlp.up_proj.weight",
                L1 + "mlp.down_proj.weight", L1 + "input_layernorm.weight", L1 + "post_attention_layernorm.weight",
                "model.norm.weight", "lm_head.weight");
        Map<String, Shape> s = shapes(e);
        assertThat(s.get("model.embed_tokens.weight")).isEqualTo(Shape.of(128, 64));
        assertThat(s.get(L0 + "self_attn.q_proj.weight")).isEqualTo(Shape.of(64, 64));
        assertThat(s.get(L0 + "self_attn.k_proj.weight")).isEqualTo(Shape.of(32, 64));
        assertThat(s.get(L0 + "self_attn.o_proj.weight")).isEqualTo(Shape.of(64, 64));
        assertThat(s.get(L0 + "mlp.gate_proj.weight")).isEqualTo(Shape.of(160, 64));
        assertThat(s.get(L0 + "mlp.down_proj.weight")).isEqualTo(Shape.of(64, 160));
        assertThat(s.get(L0 + "input_layernorm.weight")).isEqualTo(Shape.of(64));
        assertThat(s.get("lm_head.weight")).isEqualTo(Shape.of(128, 64));
        assertThat(e.get(1)).isEqualTo(new ExpectedTensor(L0 + "self_attn.q_proj.weight", TensorRole.ATTN_Q, 0, -1,
                Shape.of(64, 64)));
    }

    @Test
    void llamaBiasesFollowTheFlags() {
        Map<String, Shape> s = shapes(tiny("llama").attentionBias(true).mlpBias(true).build().expectedTensors());
        assertThat(s.get(L0 + "self_attn.q_proj.bias")).isEqualTo(Shape.of(64));
        assertThat(s.get(L0 + "self_attn.k_proj.bias")).isEqualTo(Shape.of(32));
        assertThat(s.get(L0 + "self_attn.o_proj.bias")).isEqualTo(Shape.of(64));
        assertThat(s.get(L1 + "mlp.up_proj.bias")).isEqualTo(Shape.of(160));
        assertThat(s.get(L1 + "mlp.down_proj.bias")).isEqualTo(Shape.of(64));
        assertThat(s).hasSize(21 + 2 * 7);
        assertThat(shapes(tiny("llama").build().expectedTensors()).keySet()).noneMatch(n -> n.endsWith(".bias"));
    }

    @Test
    void tiedEmbeddingsDropLmHead() {
        Map<String, Shape> s = shapes(tiny("llama").tieWordEmbeddings(true).build().expectedTensors());
        assertThat(s).doesNotContainKey("lm_head.weight").containsKey("model.embed_tokens.weight").hasSize(20);
    }

    @Test
    void mistralHasNoBiases() {
        Map<String, Shape> s = shapes(tiny("mistral").build().expectedTensors());
        assertThat(s).hasSize(21);
        assertThat(s.keySet()).noneMatch(n -> n.endsWith(".bias"));
        assertThat(FAMILIES.byName("mistral").has(TensorRole.ATTN_Q_BIAS)).isFalse();
    }

    @Test
    void qwen2HasQkvBiasButNoOutputBias() {
        Map<String, Shape> s = shapes(tiny("qwen2").build().expectedTensors());
        assertThat(s.get(L0 + "self_attn.q_proj.bias")).isEqualTo(Shape.of(64));
        assertThat(s.get(L0 + "self_attn.k_proj.bias")).isEqualTo(Shape.of(32));
        assertThat(s.get(L0 + "self_attn.v_proj.bias")).isEqualTo(Shape.of(32));
        assertThat(s).doesNotContainKey(L0 + "self_attn.o_proj.bias").hasSize(21 + 2 * 3);
        assertThat(FAMILIES.byName("qwen2").has(TensorRole.ATTN_O_BIAS)).isFalse();
    }

    @Test
    void qwen3HeadDimMayDifferFromHiddenOverHeads() {
        ModelConfig c = tiny("qwen3").headDim(128).build();
        Map<String, Shape> s = shapes(c.expectedTensors());
        assertThat(s.get(L0 + "self_attn.q_proj.weight")).isEqualTo(Shape.of(4 * 128, 64));
        assertThat(s.get(L0 + "self_attn.k_proj.weight")).isEqualTo(Shape.of(2 * 128, 64));
        assertThat(s.get(L0 + "self_attn.o_proj.weight")).isEqualTo(Shape.of(64, 512));
        assertThat(s.get(L0 + "self_attn.q_norm.weight")).isEqualTo(Shape.of(128));
        assertThat(s.get(L1 + "self_attn.k_norm.weight")).isEqualTo(Shape.of(128));
        assertThat(s).hasSize(21 + 2 * 2);
        // The Qwen3 class default head_dim is 128, whatever d/h is.
        assertThat(tiny("qwen3").build().toBuilder().build().headDim()).isEqualTo(16);
        assertThat(ModelConfig.builder(FAMILIES.byName("qwen3")).vocabSize(128).hiddenSize(64)
                .intermediateSize(160).numHiddenLayers(1).numAttentionHeads(4).build().headDim()).isEqualTo(128);
    }

    @Test
    void mixtralExpertsAreOneModuleAtATime() {
        ModelConfig c = tiny("mixtral").build();
        List<ExpectedTensor> e = c.expectedTensors();
        List<String> names = e.stream().map(ExpectedTensor::name).toList();
        String moe = L0 + "block_sparse_moe.";
        int gate = names.indexOf(moe + "gate.weight");
        assertThat(names.subList(gate, gate + 7)).containsExactly(moe + "gate.weight",
                moe + "experts.0.w1.weight", moe + "experts.0.w2.weight", moe + "experts.0.w3.weight",
                moe + "experts.1.w1.weight", moe + "experts.1.w2.weight", moe + "experts.1.w3.weight");
        Map<String, Shape> s = shapes(e);
        assertThat(s.get(moe + "gate.weight")).isEqualTo(Shape.of(4, 64));
        assertThat(s.get(moe + "experts.3.w1.weight")).isEqualTo(Shape.of(160, 64));
        assertThat(s.get(moe + "experts.3.w3.weight")).isEqualTo(Shape.of(160, 64));
        assertThat(s.get(moe + "experts.3.w2.weight")).isEqualTo(Shape.of(64, 160));
        assertThat(s).doesNotContainKey(L0 + "mlp.gate_proj.weight");
        // per layer: 4 attention + router + 4 experts x 3 + 2 norms; plus embed, norm, head
        assertThat(e).hasSize(2 * 19 + 3);
        ExpectedTensor w2 = e.stream().filter(t -> t.name().equals(L1 + "block_sparse_moe.experts.2.w2.weight"))
                .findFirst().orElseThrow();
        assertThat(w2.role()).isEqualTo(TensorRole.EXPERT_DOWN);
        assertThat(w2.layer()).isEqualTo(1);
        assertThat(w2.expert()).isEqualTo(2);
    }

    @Test
    void qwen2MoeHasSharedExpertAndRequiredBias() {
        Map<String, Shape> s = shapes(tiny("qwen2_moe").build().expectedTensors());
        assertThat(s.get(L0 + "self_attn.q_proj.bias")).isEqualTo(Shape.of(64));
        assertThat(s.get(L0 + "mlp.gate.weight")).isEqualTo(Shape.of(4, 64));
        assertThat(s.get(L0 + "mlp.experts.3.gate_proj.weight")).isEqualTo(Shape.of(48, 64));
        assertThat(s.get(L0 + "mlp.experts.3.down_proj.weight")).isEqualTo(Shape.of(64, 48));
        assertThat(s.get(L0 + "mlp.shared_expert.up_proj.weight")).isEqualTo(Shape.of(96, 64));
        assertThat(s.get(L0 + "mlp.shared_expert.down_proj.weight")).isEqualTo(Shape.of(64, 96));
        assertThat(s.get(L0 + "mlp.shared_expert_gate.weight")).isEqualTo(Shape.of(1, 64));
        assertThat(s).doesNotContainKey(L0 + "self_attn.o_proj.bias");
    }

    @Test
    void qwen2MoeSparseStepAndMlpOnlyLayers() {
        ModelConfig c = tiny("qwen2_moe").numHiddenLayers(6).decoderSparseStep(2).mlpOnlyLayers(List.of(3)).build();
        // (L+1) % 2 == 0 gives 1, 3, 5; layer 3 is forced dense.
        assertThat(c.sparseLayers()).containsExactly(1, 5);
        Map<String, Shape> s = shapes(c.expectedTensors());
        for (int layer : List.of(0, 2, 3, 4)) {
            String p = "model.layers." + layer + ".mlp.";
            assertThat(s.get(p + "gate_proj.weight")).isEqualTo(Shape.of(160, 64));
            assertThat(s.get(p + "down_proj.weight")).isEqualTo(Shape.of(64, 160));
            assertThat(s).doesNotContainKeys(p + "gate.weight", p + "experts.0.up_proj.weight",
                    p + "shared_expert_gate.weight");
        }
        for (int layer : List.of(1, 5)) {
            String p = "model.layers." + layer + ".mlp.";
            assertThat(s).containsKeys(p + "gate.weight", p + "experts.3.up_proj.weight", p + "shared_expert_gate.weight")
                    .doesNotContainKey(p + "gate_proj.weight");
        }
    }

    @Test
    void mixtralEveryLayerSparse() {
        assertThat(tiny("mixtral").numHiddenLayers(3).build().sparseLayers()).containsExactly(0, 1, 2);
        assertThat(tiny("llama").build().sparseLayers()).isEmpty();
    }

    @Test
    void qwen3MoeHasQkNormAndNoSharedExpert() {
        Map<String, Shape> s = shapes(tiny("qwen3_moe").headDim(32).build().expectedTensors());
        assertThat(s.get(L1 + "self_attn.q_proj.weight")).isEqualTo(Shape.of(128, 64));
        assertThat(s.get(L1 + "self_attn.q_norm.weight")).isEqualTo(Shape.of(32));
        assertThat(s.get(L1 + "mlp.experts.0.up_proj.weight")).isEqualTo(Shape.of(48, 64));
        assertThat(s.keySet()).noneMatch(n -> n.contains("shared_expert"));
        assertThat(s.keySet()).noneMatch(n -> n.endsWith(".bias"));
    }

    @Test
    void namesByRoleAndBack() {
        for (Family f : FAMILIES.all()) {
            for (ExpectedTensor e : tiny(f.name()).build().expectedTensors()) {
                assertThat(f.tensorName(e.role(), e.layer(), e.expert())).isEqualTo(e.name());
                assertThat(f.roleOf(e.name())).contains(new TensorId(e.role(), e.layer(), e.expert()));
            }
        }
        Family mixtral = FAMILIES.byName("mixtral");
        assertThat(mixtral.tensorName(TensorRole.EXPERT_UP, 7, 3))
                .isEqualTo("model.layers.7.block_sparse_moe.experts.3.w3.weight");
        assertThat(mixtral.tensorName(TensorRole.LM_HEAD)).isEqualTo("lm_head.weight");
        assertThatThrownBy(() -> mixtral.tensorName(TensorRole.SHARED_EXPERT_UP, 0, -1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> mixtral.tensorName(TensorRole.EXPERT_UP, 0, -1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void roleOfRejectsPaddedHugeAndForeignIndexes() {
        Family llama = FAMILIES.byName("llama");
        assertThat(llama.roleOf("model.layers.12.mlp.up_proj.weight"))
                .contains(new TensorId(TensorRole.MLP_UP, 12, -1));
        assertThat(llama.roleOf("model.layers.01.mlp.up_proj.weight")).isEmpty();
        assertThat(llama.roleOf("model.layers.99999999999.mlp.up_proj.weight")).isEmpty();
        assertThat(llama.roleOf("model.layers.-1.mlp.up_proj.weight")).isEmpty();
        assertThat(llama.roleOf("model.layers.1.mlp.up_proj.weight.extra")).isEmpty();
        assertThat(llama.roleOf("model.layers..mlp.up_proj.weight")).isEmpty();
        assertThat(llama.roleOf("")).isEmpty();
        assertThat(FAMILIES.byName("qwen2_moe").roleOf("model.layers.3.mlp.gate.weight"))
                .contains(new TensorId(TensorRole.ROUTER, 3, -1));
    }
}
