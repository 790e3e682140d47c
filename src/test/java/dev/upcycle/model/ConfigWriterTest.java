package dev.upcycle.model;

import static dev.upcycle.model.Fixtures.FAMILIES;
import static dev.upcycle.model.Fixtures.json;
import static dev.upcycle.model.Fixtures.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigWriterTest {

    private static final String LLAMA3_SCALING = "{'rope_type':'llama3','factor':8.0,'low_freq_factor':1.0,"
            + "'high_freq_factor':4.0,'original_max_position_embeddings':8192}";

    private static ModelConfig rich(Family f) {
        ModelConfig.Builder b = tiny(f.name())
                .rope(Rope.of(500000.0, json(LLAMA3_SCALING), "test"))
                .eosTokenIds(List.of(1, 7)).bosTokenId(0).padTokenId(3).dtype("bfloat16")
                .tieWordEmbeddings(true).maxPositionEmbeddings(4096).initializerRange(0.01);
        if (f.declares("attention_bias")) {
            b.attentionBias(true);
        }
        if (f.declares("mlp_bias")) {
            b.mlpBias(true);
        }
        if (f.declares("use_sliding_window")) {
            b.useSlidingWindow(true).slidingWindow(256).maxWindowLayers(1);
        } else if (f.declares("sliding_window")) {
            b.slidingWindow(null);
        }
        if (f.declares("mlp_only_layers")) {
            b.numHiddenLayers(4).mlpOnlyLayers(List.of(2)).decoderSparseStep(1).normTopkProb(true)
                    .routerAuxLossCoef(0.02).outputRouterLogits(true);
        }
        if (f.declares("router_jitter_noise")) {
            b.routerJitterNoise(0.1);
        }
        return b.build();
    }

    @Test
    void roundTripForEveryFamily() {
        for (Family f : FAMILIES.all()) {
            for (ModelConfig c : List.of(tiny(f.name()).build(), rich(f))) {
                ObjectNode written = ConfigWriter.toJson(c);
                assertThat(ModelConfig.parse(written, FAMILIES, f.name())).as(f.name()).isEqualTo(c);
            }
        }
    }

    @Test
    void ropeIsWrittenInBothEncodings() {
        ObjectNode o = ConfigWriter.toJson(rich(FAMILIES.byName("llama")));
        assertThat(o.get("rope_theta").doubleValue()).isEqualTo(500000.0);
        assertThat(o.get("rope_scaling")).isEqualTo(json(LLAMA3_SCALING));
        ObjectNode expected = (ObjectNode) json(LLAMA3_SCALING);
        expected.put("rope_theta", 500000.0);
        assertThat(o.get("rope_parameters")).isEqualTo(expected);

        ObjectNode plain = ConfigWriter.toJson(tiny("llama").build());
        assertThat(plain.get("rope_scaling").isNull()).isTrue();
        assertThat(plain.get("rope_parameters")).isEqualTo(json("{'rope_type':'default','rope_theta':10000.0}"));
    }

    @Test
    void writesDtypeTwiceHeadDimAndFamilyKeys() {
        ObjectNode mixtral = ConfigWriter.toJson(rich(FAMILIES.byName("mixtral")));
        assertThat(mixtral.get("torch_dtype").textValue()).isEqualTo("bfloat16");
        assertThat(mixtral.get("dtype").textValue()).isEqualTo("bfloat16");
        assertThat(mixtral.get("head_dim").intValue()).isEqualTo(16);
        assertThat(mixtral.get("num_local_experts").intValue()).isEqualTo(4);
        assertThat(mixtral.get("eos_token_id")).isEqualTo(json("[1,7]"));
        assertThat(mixtral.has("num_experts")).isFalse();
        assertThat(mixtral.has("moe_intermediate_size")).isFalse();
        assertThat(mixtral.has("attention_bias")).isFalse();
        assertThat(mixtral.has("norm_topk_prob")).isFalse();
        assertThat(mixtral.get("architectures")).isEqualTo(json("['MixtralForCausalLM']"));

        ObjectNode qwen = ConfigWriter.toJson(rich(FAMILIES.byName("qwen2_moe")));
        assertThat(qwen.get("num_experts").intValue()).isEqualTo(4);
        assertThat(qwen.get("moe_intermediate_size").intValue()).isEqualTo(48);
        assertThat(qwen.get("shared_expert_intermediate_size").intValue()).isEqualTo(96);
        assertThat(qwen.get("mlp_only_layers")).isEqualTo(json("[2]"));
        assertThat(qwen.get("norm_topk_prob").booleanValue()).isTrue();
        assertThat(qwen.get("model_type").textValue()).isEqualTo("qwen2_moe");
    }

    @Test
    void keyOrderIsFixed() {
        List<String> keys = new ArrayList<>();
        ConfigWriter.toJson(tiny("llama").dtype("float32").build()).fieldNames().forEachRemaining(keys::add);
        assertThat(keys).startsWith("architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size")
                .endsWith("torch_dtype", "dtype");
        List<String> again = new ArrayList<>();
        ConfigWriter.toJson(tiny("llama").dtype("float32").build()).fieldNames().forEachRemaining(again::add);
        assertThat(again).isEqualTo(keys);
    }

    @Test
    void unknownFieldsAreCarriedOnlyWhenAsked() {
        ModelConfig c = ModelConfig.parse(json("{'architectures':['LlamaForCausalLM'],'model_type':'llama',"
                + "'hidden_size':64,'intermediate_size':160,'num_hidden_layers':2,'num_attention_heads':4,"
                + "'vocab_size':128,'rms_norm_eps':1e-5,'use_cache':true,'torch_dtype':'float16','mlp_bias':false}"),
                FAMILIES, "config.json");
        assertThat(ConfigWriter.toJson(c).has("use_cache")).isFalse();
        ObjectNode carried = ConfigWriter.toJson(c, true);
        assertThat(carried.get("use_cache").booleanValue()).isTrue();
        assertThat(carried.get("dtype").textValue()).isEqualTo("float16");
        // Known keys are rewritten from the record, never copied: a Mixtral target drops mlp_bias.
        ModelConfig moe = c.toBuilder().family(FAMILIES.byName("mixtral")).build();
        ObjectNode target = ConfigWriter.toJson(moe, true);
        assertThat(target.has("mlp_bias")).isFalse();
        assertThat(target.get("use_cache").booleanValue()).isTrue();
    }
}
