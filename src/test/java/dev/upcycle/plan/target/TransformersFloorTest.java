package dev.upcycle.plan.target;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.model.Rope;
import org.junit.jupiter.api.Test;

/** The oldest transformers release that loads an output exactly: the highest release its features need. */
class TransformersFloorTest {

    /** An output config of {@code family}: hidden 64, 4 heads of {@code headDim}. */
    private static ModelConfig output(String family, int headDim, Rope rope) {
        ModelConfig.Builder b = ModelConfig.builder(FamilyRegistry.builtIn().byName(family))
                .vocabSize(128).hiddenSize(64).intermediateSize(160).numHiddenLayers(2)
                .numAttentionHeads(4).numKeyValueHeads(2).headDim(headDim).rmsNormEps(1e-5)
                .numExperts(4).numExpertsPerTok(2).expertWidth(family.equals("mixtral") ? 160 : 48);
        if (family.equals("qwen2_moe")) {
            b.sharedExpertWidth(96);
        }
        return b.rope(rope).build();
    }

    private static Rope llama3Rope() {
        ObjectNode s = JsonNodeFactory.instance.objectNode().put("rope_type", "llama3").put("factor", 8.0)
                .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
                .put("original_max_position_embeddings", 8192);
        return new Rope(500000.0, s);
    }

    private static TransformersFloor.Floor floor(String target, ModelConfig c) {
        return MoeTargets.byName(target).transformers().orElseThrow().of(c);
    }

    @Test
    void eachFamilyStartsAtTheReleaseThatAddedIt() {
        Rope plain = Rope.plain(10000.0);
        assertThat(floor("mixtral", output("mixtral", 16, plain))).isEqualTo(new TransformersFloor.Floor("4.36",
                java.util.List.of()));
        assertThat(floor("qwen2-moe", output("qwen2_moe", 16, plain)).version()).isEqualTo("4.40");
        assertThat(floor("qwen3-moe", output("qwen3_moe", 16, plain)).version()).isEqualTo("4.51");
        assertThat(MoeTargets.NATIVE.transformers()).isEmpty();
    }

    @Test
    void anExplicitHeadDimRaisesQwen2MoeTo453AndMixtralTo447() {
        Rope plain = Rope.plain(10000.0);
        TransformersFloor.Floor qwen2 = floor("qwen2-moe", output("qwen2_moe", 32, plain));
        assertThat(qwen2.version()).isEqualTo("4.53");
        assertThat(qwen2.describe()).isEqualTo(">= 4.53 (Qwen2-MoE reads head_dim only from 4.53)");
        assertThat(floor("mixtral", output("mixtral", 32, plain)).version()).isEqualTo("4.47");
        // Qwen3-MoE read head_dim from its first release: no reason to name.
        assertThat(floor("qwen3-moe", output("qwen3_moe", 32, plain)))
                .isEqualTo(new TransformersFloor.Floor("4.51", java.util.List.of()));
    }

    @Test
    void theFloorIsTheHighestReleaseOfTheFeaturesUsedAndNamesOnlyThatOne() {
        TransformersFloor.Floor rope = floor("qwen2-moe", output("qwen2_moe", 16, llama3Rope()));
        assertThat(rope.version()).isEqualTo("4.43");
        assertThat(rope.reasons()).containsExactly("the llama3 RoPE type exists only from 4.43");
        TransformersFloor.Floor both = floor("qwen2-moe", output("qwen2_moe", 32, llama3Rope()));
        assertThat(both.version()).isEqualTo("4.53");
        assertThat(both.reasons()).containsExactly("Qwen2-MoE reads head_dim only from 4.53");
        assertThat(floor("mixtral", output("mixtral", 16, llama3Rope())).version()).isEqualTo("4.43");
    }

    @Test
    void releasesCompareNumerically() {
        assertThat(TransformersFloor.compare("4.9", "4.10")).isNegative();
        assertThat(TransformersFloor.compare("4.53", "4.53.0")).isZero();
        assertThat(TransformersFloor.compare("5.0", "4.99")).isPositive();
    }
}
