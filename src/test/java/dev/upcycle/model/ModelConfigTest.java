package dev.upcycle.model;

import static dev.upcycle.model.Fixtures.FAMILIES;
import static dev.upcycle.model.Fixtures.json;
import static dev.upcycle.model.Fixtures.tiny;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {

    private static final String LLAMA = "{'architectures':['LlamaForCausalLM'],'model_type':'llama',"
            + "'hidden_size':64,'intermediate_size':160,'num_hidden_layers':2,'num_attention_heads':4,"
            + "'vocab_size':128,'rms_norm_eps':1e-5";
    private static final String QWEN3_MOE = "{'architectures':['Qwen3MoeForCausalLM'],'model_type':'qwen3_moe',"
            + "'hidden_size':64,'intermediate_size':160,'num_hidden_layers':4,'num_attention_heads':4,"
            + "'vocab_size':128,'rms_norm_eps':1e-6,'head_dim':16,'moe_intermediate_size':32";
    private static final String QWEN2_MOE = "{'architectures':['Qwen2MoeForCausalLM'],'model_type':'qwen2_moe',"
            + "'hidden_size':64,'intermediate_size':160,'num_hidden_layers':4,'num_attention_heads':4,"
            + "'vocab_size':128,'rms_norm_eps':1e-6,'num_experts':8,'num_experts_per_tok':2";

    private static ModelConfig parse(String text) {
        return ModelConfig.parse(json(text), FAMILIES, "config.json");
    }

    private static ModelConfig llama(String extra) {
        return parse(LLAMA + extra + "}");
    }

    private static void fails(String text, ErrorKind kind, String... mentions) {
        assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(UpcycleException.class, e -> {
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.where()).isEqualTo("config.json");
            assertThat(e.why()).contains(mentions);
        });
    }

    @Test
    void minimalLlamaTakesTheDefaults() {
        ModelConfig c = llama("");
        assertThat(c.family().name()).isEqualTo("llama");
        assertThat(c.numKeyValueHeads()).isEqualTo(4);
        assertThat(c.headDim()).isEqualTo(16);
        assertThat(c.hiddenAct()).isEqualTo("silu");
        assertThat(c.tieWordEmbeddings()).isFalse();
        assertThat(c.attentionBias()).isFalse();
        assertThat(c.rope()).isEqualTo(Rope.plain(10000.0));
        assertThat(c.dtype()).isNull();
        assertThat(c.moe()).isNull();
        assertThat(c.eosTokenIds()).containsExactly(2);
        assertThat(c.raw().get("model_type").textValue()).isEqualTo("llama");
        assertThat(c).isEqualTo(tiny("llama").numKeyValueHeads(4).build());
    }

    @Test
    void headDimNullMeansHiddenOverHeads() {
        assertThat(llama(",'head_dim':null").headDim()).isEqualTo(16);
        assertThat(llama(",'head_dim':32").headDim()).isEqualTo(32);
    }

    @Test
    void legacyRopeWithLlama3Scaling() {
        ModelConfig c = llama(",'rope_theta':500000.0,'rope_scaling':{'rope_type':'llama3','factor':8.0,"
                + "'low_freq_factor':1.0,'high_freq_factor':4.0,'original_max_position_embeddings':8192}");
        assertThat(c.rope().theta()).isEqualTo(500000.0);
        assertThat(c.rope().type()).isEqualTo("llama3");
        assertThat(c.rope().scaling().get("factor").doubleValue()).isEqualTo(8.0);
        assertThat(c.rope().scaling().get("original_max_position_embeddings").intValue()).isEqualTo(8192);
    }

    @Test
    void typeIsASynonymOfRopeType() {
        ModelConfig legacy = llama(",'rope_scaling':{'type':'linear','factor':2.0}");
        ModelConfig modern = llama(",'rope_scaling':{'rope_type':'linear','factor':2.0}");
        assertThat(legacy.rope().type()).isEqualTo("linear");
        assertThat(legacy.rope().scaling().has("type")).isFalse();
        assertThat(legacy).isEqualTo(modern);
        fails(LLAMA + ",'rope_scaling':{'type':'linear','rope_type':'dynamic','factor':2.0}}",
                ErrorKind.ConfigConflict, "linear", "dynamic");
    }

    @Test
    void v5RopeParametersHoldTheta() {
        ModelConfig c = llama(",'rope_parameters':{'rope_type':'default','rope_theta':500000.0}");
        assertThat(c.rope()).isEqualTo(Rope.plain(500000.0));
        ModelConfig scaled = llama(",'rope_parameters':{'rope_type':'llama3','factor':8.0,'low_freq_factor':1.0,"
                + "'high_freq_factor':4.0,'original_max_position_embeddings':8192,'rope_theta':500000.0}");
        ModelConfig legacy = llama(",'rope_theta':500000.0,'rope_scaling':{'rope_type':'llama3','factor':8.0,"
                + "'low_freq_factor':1.0,'high_freq_factor':4.0,'original_max_position_embeddings':8192}");
        assertThat(scaled).isEqualTo(legacy);
        // v5 fills a missing rope_theta from the top level.
        assertThat(llama(",'rope_theta':1234.0,'rope_parameters':{'rope_type':'default'}").rope().theta())
                .isEqualTo(1234.0);
    }

    @Test
    void bothRopeFormsAgreeingIsFineAndDisagreeingIsAConflict() {
        assertThat(llama(",'rope_theta':500000,'rope_scaling':null,"
                + "'rope_parameters':{'rope_type':'default','rope_theta':500000.0}").rope().theta()).isEqualTo(500000.0);
        fails(LLAMA + ",'rope_theta':10000.0,'rope_parameters':{'rope_type':'default','rope_theta':500000.0}}",
                ErrorKind.ConfigConflict, "rope_parameters");
        fails(LLAMA + ",'rope_theta':500000.0,'rope_scaling':null,'rope_parameters':{'rope_type':'linear',"
                + "'factor':2.0,'rope_theta':500000.0}}", ErrorKind.ConfigConflict, "disagree");
    }

    @Test
    void eosMayBeAList() {
        assertThat(llama(",'eos_token_id':[1,2,7]").eosTokenIds()).containsExactly(1, 2, 7);
        assertThat(llama(",'eos_token_id':null").eosTokenIds()).isEmpty();
        fails(LLAMA + ",'eos_token_id':[1,128]}", ErrorKind.InvalidConfig, "eos_token_id", "128");
        fails(LLAMA + ",'eos_token_id':'2'}", ErrorKind.InvalidConfig, "eos_token_id");
    }

    @Test
    void dtypeFromEitherKey() {
        assertThat(llama(",'torch_dtype':'bfloat16'").dtype()).isEqualTo("bfloat16");
        assertThat(llama(",'dtype':'half'").dtype()).isEqualTo("float16");
        assertThat(llama(",'torch_dtype':'float','dtype':'float32'").dtypeHint()).contains(DType.F32);
        assertThat(llama(",'dtype':'auto'").dtypeHint()).isEmpty();
        fails(LLAMA + ",'torch_dtype':'bfloat16','dtype':'float16'}", ErrorKind.ConfigConflict, "bfloat16", "float16");
        fails(LLAMA + ",'dtype':'int8'}", ErrorKind.InvalidConfig, "dtype");
    }

    @Test
    void missingOrWrongTypedFieldsNameTheField() {
        fails("{'architectures':['LlamaForCausalLM'],'model_type':'llama','hidden_size':64}",
                ErrorKind.InvalidConfig, "num_attention_heads");
        fails(LLAMA.replace(",'rms_norm_eps':1e-5", "") + "}", ErrorKind.InvalidConfig, "rms_norm_eps is required");
        fails(LLAMA.replace("'vocab_size':128", "'vocab_size':'128'") + "}", ErrorKind.InvalidConfig,
                "vocab_size must be an integer");
        fails(LLAMA.replace("'vocab_size':128", "'vocab_size':128.5") + "}", ErrorKind.InvalidConfig, "vocab_size");
        fails(LLAMA + ",'tie_word_embeddings':'yes'}", ErrorKind.InvalidConfig, "tie_word_embeddings");
        fails(LLAMA + ",'hidden_act':3}", ErrorKind.InvalidConfig, "hidden_act");
        fails("[1,2]", ErrorKind.InvalidConfig, "object");
    }

    @Test
    void unsupportedArchitecture() {
        fails(LLAMA.replace("'model_type':'llama'", "'model_type':'gpt_neox'") + "}",
                ErrorKind.UnsupportedArchitecture, "gpt_neox", "llama");
    }

    @Test
    void sizesMustBePositiveAndHeadsDivisible() {
        fails(LLAMA + ",'num_key_value_heads':3}", ErrorKind.InvalidConfig, "num_attention_heads = 4",
                "num_key_value_heads = 3");
        fails(LLAMA.replace("'num_hidden_layers':2", "'num_hidden_layers':0") + "}", ErrorKind.InvalidConfig,
                "num_hidden_layers = 0");
        fails(LLAMA.replace("'intermediate_size':160", "'intermediate_size':-5") + "}", ErrorKind.InvalidConfig,
                "intermediate_size = -5");
        fails(LLAMA.replace("'hidden_size':64", "'hidden_size':66") + "}", ErrorKind.InvalidConfig,
                "hidden_size = 66", "head_dim");
        assertThat(llama(",'num_key_value_heads':1").numKeyValueHeads()).isEqualTo(1);
    }

    @Test
    void absurdValuesAreRefusedWithFieldAndValue() {
        fails(LLAMA.replace("'num_hidden_layers':2", "'num_hidden_layers':1099511627776") + "}",
                ErrorKind.InvalidConfig, "num_hidden_layers", "1099511627776");
        fails(LLAMA.replace("'hidden_size':64", "'hidden_size':1000000000") + ",'head_dim':16}",
                ErrorKind.InvalidConfig, "hidden_size = 1000000000");
        fails(LLAMA.replace("'vocab_size':128", "'vocab_size':99999999999999999999999") + "}",
                ErrorKind.InvalidConfig, "vocab_size");
        fails(QWEN2_MOE.replace("'num_experts':8", "'num_experts':3000000000") + "}", ErrorKind.InvalidConfig,
                "num_experts", "3000000000");
        fails(QWEN2_MOE.replace("'num_experts':8", "'num_experts':70000") + "}", ErrorKind.InvalidConfig,
                "num_experts = 70000");
        // Each bound alone is generous; their product is bounded too, so the tensor list stays small.
        fails(QWEN2_MOE.replace("'num_experts':8", "'num_experts':60000")
                .replace("'num_hidden_layers':4", "'num_hidden_layers':100") + "}", ErrorKind.InvalidConfig,
                "num_hidden_layers x experts = 6000000");
    }

    @Test
    void pretrainingTpMustBeOne() {
        assertThat(llama(",'pretraining_tp':1").family().name()).isEqualTo("llama");
        fails(LLAMA + ",'pretraining_tp':2}", ErrorKind.InvalidConfig, "pretraining_tp");
    }

    @Test
    void moeTopKAndLayersAreChecked() {
        ModelConfig c = parse(QWEN2_MOE + ",'mlp_only_layers':[0],'decoder_sparse_step':1}");
        assertThat(c.moe().numExperts()).isEqualTo(8);
        assertThat(c.moe().expertWidth()).isEqualTo(1408);
        assertThat(c.moe().sharedExpertWidth()).isEqualTo(5632);
        assertThat(c.moe().normTopkProb()).isFalse();
        assertThat(c.sparseLayers()).containsExactly(1, 2, 3);
        fails(QWEN2_MOE + ",'num_experts_per_tok':9}".replace("'num_experts_per_tok':2,", ""),
                ErrorKind.InvalidConfig, "num_experts_per_tok");
        fails(QWEN2_MOE.replace("'num_experts_per_tok':2", "'num_experts_per_tok':9") + "}",
                ErrorKind.InvalidConfig, "num_experts_per_tok = 9");
        fails(QWEN2_MOE + ",'mlp_only_layers':[4]}", ErrorKind.InvalidConfig, "mlp_only_layers", "4");
        fails(QWEN2_MOE + ",'mlp_only_layers':3}", ErrorKind.InvalidConfig, "mlp_only_layers");
    }

    @Test
    void mixtralUsesNumLocalExpertsAndAlwaysRenormalises() {
        ModelConfig c = parse("{'architectures':['MixtralForCausalLM'],'model_type':'mixtral','hidden_size':64,"
                + "'intermediate_size':160,'num_hidden_layers':2,'num_attention_heads':4,'num_key_value_heads':2,"
                + "'vocab_size':128,'rms_norm_eps':1e-5,'num_local_experts':4,'num_experts':99,"
                + "'attention_bias':true}");
        assertThat(c.moe().numExperts()).isEqualTo(4);
        assertThat(c.moe().expertWidth()).isEqualTo(160);
        assertThat(c.moe().numExpertsPerTok()).isEqualTo(2);
        assertThat(c.moe().normTopkProb()).isTrue();
        assertThat(c.rope().theta()).isEqualTo(1e6);
        // Mixtral has no attention_bias: transformers ignores the key, and so do we.
        assertThat(c.attentionBias()).isFalse();
        assertThatThrownBy(() -> tiny("mixtral").normTopkProb(false).build())
                .isInstanceOfSatisfying(UpcycleException.class, e -> assertThat(e.why()).contains("norm_topk_prob"));
        assertThatThrownBy(() -> tiny("mixtral").attentionBias(true).build())
                .isInstanceOfSatisfying(UpcycleException.class, e -> assertThat(e.why()).contains("attention_bias"));
    }

    @Test
    void qwen3MoeAcceptsNumLocalExpertsAsSynonym() {
        assertThat(parse(QWEN3_MOE + ",'num_local_experts':16}").moe().numExperts()).isEqualTo(16);
        assertThat(parse(QWEN3_MOE + ",'num_experts':16,'num_local_experts':16}").moe().numExperts()).isEqualTo(16);
        assertThat(parse(QWEN3_MOE + "}").moe().numExperts()).isEqualTo(128);
        fails(QWEN3_MOE + ",'num_experts':16,'num_local_experts':8}", ErrorKind.ConfigConflict,
                "num_experts = 16", "num_local_experts = 8");
    }

    @Test
    void builderRefusesMoeFieldsOnDenseFamilies() {
        assertThatThrownBy(() -> tiny("llama").numExperts(4).build()).isInstanceOf(UpcycleException.class);
        assertThatThrownBy(() -> tiny("qwen3_moe").sharedExpertWidth(8).build())
                .isInstanceOfSatisfying(UpcycleException.class, e -> assertThat(e.why()).contains("shared"));
        assertThatThrownBy(() -> tiny("mixtral").expertWidth(32).build())
                .isInstanceOfSatisfying(UpcycleException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig));
    }

    @Test
    void toBuilderSwitchesFamily() {
        ModelConfig dense = tiny("llama").dtype(DType.BF16).build();
        ModelConfig moe = dense.toBuilder().family(FAMILIES.byName("mixtral")).numExperts(8).build();
        assertThat(moe.architectures()).containsExactly("MixtralForCausalLM");
        assertThat(moe.moe().expertWidth()).isEqualTo(160);
        assertThat(moe.dtype()).isEqualTo("bfloat16");
        assertThat(moe.hiddenSize()).isEqualTo(dense.hiddenSize());
        assertThat(moe.moe().numExpertsPerTok()).isEqualTo(2);
    }

    @Test
    void readRefusesMissingNonJsonHugeDeepAndDuplicateKeys(@TempDir Path dir) throws IOException {
        assertReadFails(dir.resolve("config.json"), "missing");
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"model_type\": ");
        assertReadFails(bad, "JSON");
        Path deep = Files.writeString(dir.resolve("deep.json"), "[".repeat(100) + "]".repeat(100));
        assertReadFails(deep, "JSON");
        Path dup = Files.writeString(dir.resolve("dup.json"), (LLAMA + ",'vocab_size':7}").replace('\'', '"'));
        assertReadFails(dup, "vocab_size");
        Path trailing = Files.writeString(dir.resolve("trailing.json"), (LLAMA + "} x").replace('\'', '"'));
        assertReadFails(trailing, "JSON");
        Path huge = dir.resolve("huge.json");
        try (var out = Files.newOutputStream(huge)) {
            out.write(new byte[(int) ModelConfig.MAX_CONFIG_BYTES + 1]);
        }
        assertReadFails(huge, "bytes");
        Path ok = Files.writeString(dir.resolve("ok.json"), (LLAMA + "}").replace('\'', '"'));
        assertThat(ModelConfig.read(ok, FAMILIES).hiddenSize()).isEqualTo(64);
    }

    private static void assertReadFails(Path file, String mention) {
        assertThatThrownBy(() -> ModelConfig.read(file, FAMILIES)).isInstanceOfSatisfying(UpcycleException.class, e -> {
            assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig);
            assertThat(e.where()).isEqualTo(file.toString());
            assertThat(e.why()).contains(mention);
        });
    }

    @Test
    void rawKeepsUnknownFieldsAndIsACopy() {
        ModelConfig c = llama(",'use_cache':true,'transformers_version':'4.44.0'");
        ObjectNode raw = c.raw();
        assertThat(raw.get("use_cache").booleanValue()).isTrue();
        raw.put("use_cache", false);
        assertThat(c.raw().get("use_cache").booleanValue()).isTrue();
        assertThat(c).isEqualTo(llama(""));
        assertThat(List.of(c.architectures())).hasSize(1);
    }
}
