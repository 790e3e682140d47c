package dev.upcycle.model;

import static dev.upcycle.model.Fixtures.FAMILIES;
import static dev.upcycle.model.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.List;
import org.junit.jupiter.api.Test;

class FamilyRegistryTest {

    @Test
    void builtInHasTheEightFamiliesSplitByKind() {
        assertThat(FAMILIES.dense()).extracting(Family::name).containsExactly("llama", "mistral", "qwen2", "qwen3");
        assertThat(FAMILIES.moe()).extracting(Family::name).containsExactly("mixtral", "qwen2_moe", "qwen3_moe", "upcycle_moa");
        assertThat(FamilyRegistry.builtIn()).isSameAs(FAMILIES);
    }

    @Test
    void familiesCarryTheirConfigSpelling() {
        Family mixtral = FAMILIES.byName("mixtral");
        assertThat(mixtral.architecture()).isEqualTo("MixtralForCausalLM");
        assertThat(mixtral.keys().numExperts()).isEqualTo("num_local_experts");
        assertThat(mixtral.keys().expertWidth()).isEqualTo("intermediate_size");
        assertThat(mixtral.sparseLayers()).isEqualTo(SparseLayerRule.ALL);
        Family qwen2Moe = FAMILIES.byName("qwen2_moe");
        assertThat(qwen2Moe.keys().numExperts()).isEqualTo("num_experts");
        assertThat(qwen2Moe.keys().expertWidth()).isEqualTo("moe_intermediate_size");
        assertThat(qwen2Moe.keys().sharedExpertWidth()).isEqualTo("shared_expert_intermediate_size");
        assertThat(qwen2Moe.sparseLayers()).isEqualTo(SparseLayerRule.DECODER_SPARSE_STEP);
        assertThat(FAMILIES.byName("qwen3_moe").keys().numExpertsAliases()).containsExactly("num_local_experts");
        assertThat(FAMILIES.byName("qwen3").architecture()).isEqualTo("Qwen3ForCausalLM");
    }

    @Test
    void forConfigFindsByModelType() {
        assertThat(FAMILIES.forConfig(json("{'model_type':'qwen2','architectures':['Qwen2ForCausalLM']}")).name())
                .isEqualTo("qwen2");
    }

    @Test
    void unknownModelTypeIsUnsupportedAndListsTheSupportedOnes() {
        assertThatThrownBy(() -> FAMILIES.forConfig(json("{'model_type':'gpt2','architectures':['GPT2LMHeadModel']}")))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.UnsupportedArchitecture);
                    assertThat(e.why()).contains("\"gpt2\"").contains("llama").contains("qwen3_moe");
                });
    }

    @Test
    void architectureMustMatchModelType() {
        assertThatThrownBy(() -> FAMILIES.forConfig(json("{'model_type':'llama','architectures':['MistralForCausalLM']}")))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.UnsupportedArchitecture));
        assertThatThrownBy(() -> FAMILIES.forConfig(
                json("{'model_type':'llama','architectures':['LlamaForSequenceClassification']}")))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.why()).contains("LlamaForSequenceClassification"));
    }

    @Test
    void missingArchitecturesIsInvalidConfig() {
        assertThatThrownBy(() -> FAMILIES.forConfig(json("{'model_type':'llama'}")))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig));
    }

    @Test
    void byNameUnknownIsUnsupported() {
        assertThatThrownBy(() -> FAMILIES.byName("gpt2"))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.UnsupportedArchitecture);
                    assertThat(e.why()).contains("mixtral");
                });
    }

    @Test
    void registryRejectsDuplicates() {
        Family llama = FAMILIES.byName("llama");
        assertThatThrownBy(() -> FamilyRegistry.of(List.of(llama, llama)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void familyFileCanBeReadFromOutside() {
        Family read = FamilyRegistry.readFamily(
                FamilyRegistry.class.getResourceAsStream("/dev/upcycle/families/qwen3.json"), "qwen3.json");
        assertThat(read).isEqualTo(FAMILIES.byName("qwen3"));
    }

    @Test
    void theNativeFamilyIsNamedOnce() {
        Family f = FamilyRegistry.builtIn().byName(FamilyRegistry.NATIVE_MOA);
        assertThat(f.name()).isEqualTo(FamilyRegistry.NATIVE_MOA);
        assertThat(f.moa()).as("the family with attention experts").isTrue();
    }
}
