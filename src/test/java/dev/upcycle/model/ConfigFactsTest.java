package dev.upcycle.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Facts a config answers once, from whichever keys its family encodes them with. */
class ConfigFactsTest {

    /** A 4-layer config of {@code family} read from config.json text, edited by {@code edit}. */
    private static ModelConfig read(String family, String architecture, Consumer<ObjectNode> edit) {
        ObjectNode o = (ObjectNode) Fixtures.json("{'model_type': '" + family + "', 'architectures': ['"
                + architecture + "'], 'vocab_size': 128, 'hidden_size': 64, 'intermediate_size': 160,"
                + " 'num_hidden_layers': 4, 'num_attention_heads': 4, 'num_key_value_heads': 2, 'rms_norm_eps': 1e-6}");
        edit.accept(o);
        return ModelConfig.parse(o, Fixtures.FAMILIES, "config.json");
    }

    private static List<Integer> windows(ModelConfig c) {
        List<Integer> out = new ArrayList<>();
        for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
            out.add(c.slidingWindow(layer));
        }
        return out;
    }

    @Test
    void mistralAppliesItsWindowToEveryLayer() {
        ModelConfig c = read("mistral", "MistralForCausalLM", o -> o.put("sliding_window", 16));
        assertThat(windows(c)).containsExactly(16, 16, 16, 16);
        assertThat(c.usesSlidingWindow()).isTrue();
        assertThat(c.firstWindowLayer()).isZero();

        ModelConfig absent = read("mistral", "MistralForCausalLM", o -> { });
        assertThat(windows(absent)).as("the family default 4096").containsExactly(4096, 4096, 4096, 4096);

        ModelConfig none = read("mistral", "MistralForCausalLM", o -> o.putNull("sliding_window"));
        assertThat(windows(none)).containsOnlyNulls();
        assertThat(none.usesSlidingWindow()).isFalse();
    }

    @Test
    void qwen2KeepsAnUnusedWindowOff() {
        // Qwen2's class defaults: a 4096 window, not used.
        ModelConfig defaults = read("qwen2", "Qwen2ForCausalLM", o -> { });
        assertThat(defaults.slidingWindow()).isEqualTo(4096);
        assertThat(windows(defaults)).containsOnlyNulls();
        assertThat(defaults.usesSlidingWindow()).isFalse();

        ModelConfig off = read("qwen2", "Qwen2ForCausalLM", o -> o.put("use_sliding_window", false)
                .put("sliding_window", 16).put("max_window_layers", 0));
        assertThat(windows(off)).containsOnlyNulls();
    }

    @Test
    void qwen2WindowsTheLayersFromMaxWindowLayersOn() {
        ModelConfig from2 = read("qwen2", "Qwen2ForCausalLM", o -> o.put("use_sliding_window", true)
                .put("sliding_window", 16).put("max_window_layers", 2));
        assertThat(windows(from2)).containsExactly(null, null, 16, 16);
        assertThat(from2.firstWindowLayer()).isEqualTo(2);
        assertThat(from2.usesSlidingWindow()).isTrue();

        ModelConfig every = read("qwen2", "Qwen2ForCausalLM", o -> o.put("use_sliding_window", true)
                .put("sliding_window", 16).put("max_window_layers", 0));
        assertThat(windows(every)).containsExactly(16, 16, 16, 16);

        ModelConfig nullLayers = read("qwen2", "Qwen2ForCausalLM", o -> o.put("use_sliding_window", true)
                .put("sliding_window", 16).putNull("max_window_layers"));
        assertThat(windows(nullLayers)).as("no full layers").containsExactly(16, 16, 16, 16);

        ModelConfig beyond = read("qwen2", "Qwen2ForCausalLM", o -> o.put("use_sliding_window", true)
                .put("sliding_window", 16));
        assertThat(beyond.firstWindowLayer()).as("the default 28 of a 4-layer model").isEqualTo(28);
        assertThat(windows(beyond)).containsOnlyNulls();

        ModelConfig noWindow = read("qwen2", "Qwen2ForCausalLM", o -> o.put("use_sliding_window", true)
                .putNull("sliding_window").put("max_window_layers", 0));
        assertThat(windows(noWindow)).containsOnlyNulls();
        assertThat(noWindow.usesSlidingWindow()).isFalse();
    }

    @Test
    void llamaHasNoWindowAndSequentialBlocks() {
        ModelConfig c = read("llama", "LlamaForCausalLM", o -> o.put("sliding_window", 16));
        assertThat(windows(c)).as("llama has no sliding_window field").containsOnlyNulls();
        assertThat(c.blockLayout()).isEqualTo(MoaConfig.BlockLayout.SEQUENTIAL);
    }

    @Test
    void theNativeFamilyReadsItsBlockLayout() {
        ModelConfig c = Fixtures.tiny("upcycle_moa")
                .moa(new MoaConfig(MoaConfig.Variant.SEPARATE, 2, null, null, MoaConfig.BlockLayout.PARALLEL, 1, 0.0))
                .build();
        assertThat(c.blockLayout()).isEqualTo(MoaConfig.BlockLayout.PARALLEL);
        assertThat(Fixtures.tiny("upcycle_moa").build().blockLayout()).isEqualTo(MoaConfig.BlockLayout.SEQUENTIAL);
    }

    @Test
    void onlyTheQwenFamiliesSwitchTheirWindow() {
        assertThat(read("qwen2", "Qwen2ForCausalLM", o -> { }).windowHasSwitch()).isTrue();
        assertThat(read("qwen3", "Qwen3ForCausalLM", o -> { }).windowHasSwitch()).isTrue();
        assertThat(read("mistral", "MistralForCausalLM", o -> { }).windowHasSwitch()).isFalse();
        assertThat(read("llama", "LlamaForCausalLM", o -> { }).windowHasSwitch()).isFalse();
    }

    @Test
    void qkvBiasesComeFromTheFlagOrAlwaysWithQwen2() {
        assertThat(read("qwen2", "Qwen2ForCausalLM", o -> { }).hasQkvBias()).as("qwen2: always").isTrue();
        assertThat(read("llama", "LlamaForCausalLM", o -> { }).hasQkvBias()).isFalse();
        assertThat(read("llama", "LlamaForCausalLM", o -> o.put("attention_bias", true)).hasQkvBias()).isTrue();
        assertThat(read("qwen3", "Qwen3ForCausalLM", o -> { }).hasQkvBias()).isFalse();
        assertThat(read("qwen3", "Qwen3ForCausalLM", o -> o.put("attention_bias", true)).hasQkvBias()).isTrue();
        assertThat(read("mistral", "MistralForCausalLM", o -> { }).hasQkvBias()).isFalse();
    }

    @Test
    void blocksHaveTwoNormsUnlessAParallelOneNormBlock() {
        assertThat(read("llama", "LlamaForCausalLM", o -> { }).normsPerBlock()).isEqualTo(2);
        for (int norms = 1; norms <= 2; norms++) {
            ModelConfig parallel = Fixtures.tiny("upcycle_moa").moa(new MoaConfig(MoaConfig.Variant.SEPARATE, 2, null,
                    null, MoaConfig.BlockLayout.PARALLEL, norms, 0.0)).build();
            assertThat(parallel.normsPerBlock()).isEqualTo(norms);
        }
        ModelConfig sequential = Fixtures.tiny("upcycle_moa").moa(new MoaConfig(MoaConfig.Variant.SEPARATE, 2, null,
                null, MoaConfig.BlockLayout.SEQUENTIAL, 1, 0.0)).build();
        assertThat(sequential.normsPerBlock()).as("parallel_num_norms is unused by sequential blocks").isEqualTo(2);
    }

    /** One default path: a file that gives only the required fields reads as the builder's defaults. */
    @Test
    void aMinimalFileAndAnUnsetBuilderAgreeForEveryFamily() {
        for (Family f : Fixtures.FAMILIES.all()) {
            ObjectNode o = (ObjectNode) Fixtures.json("{'vocab_size': 128, 'hidden_size': 64,"
                    + " 'intermediate_size': 160, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'rms_norm_eps': 1e-6}");
            o.put("model_type", f.modelType()).putArray("architectures").add(f.architecture());
            ModelConfig.Builder b = ModelConfig.builder(f).vocabSize(128).hiddenSize(64).intermediateSize(160)
                    .numHiddenLayers(2).numAttentionHeads(4);
            if (f.moa()) {
                o.put(f.keys().numAttentionExperts(), 2);
                b.moa(MoaConfig.of(MoaConfig.Variant.SEPARATE, 2));
            }
            assertThat(ModelConfig.parse(o, Fixtures.FAMILIES, "config.json")).as(f.name()).isEqualTo(b.build());
        }
    }
}
