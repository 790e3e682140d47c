package dev.upcycle.recipe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MergekitParserTest {
    private static final Path FILE = Path.of("moe.yml");

    private static MergekitConfig parse(String yaml) {
        return MergekitParser.parse(FILE, yaml);
    }

    private static UpcycleException refused(String yaml) {
        try {
            parse(yaml);
        } catch (UpcycleException e) {
            assertThat(e.kind()).isEqualTo(ErrorKind.InvalidRecipe);
            return e;
        }
        throw new AssertionError("accepted: " + yaml);
    }

    @Test
    void everyKeyIsReadWithMergekitsMeaning() {
        MergekitConfig c = parse("""
                base_model: base
                gate_mode: hidden_avg
                dtype: torch.float16
                experts_per_token: 1
                architecture: qwen
                experts:
                  - source_model: a
                    positive_prompts: ["p1", "p2"]
                    negative_prompts: ["n1"]
                    noise_scale: 0.01
                    residual_scale: 0.5
                  - source_model: org/b@rev
                    positive_prompts: ["q"]
                shared_experts:
                  - source_model: s
                    positive_prompts: ["shared"]
                    residual_scale: 0.1
                upcycle:
                  seed: 42
                  routing: softmax-topk
                  max_shard_size: 1MB
                  allow_nonfinite: true
                """);
        assertThat(c.baseModel()).isEqualTo("base");
        assertThat(c.gateMode()).isEqualTo(MergekitConfig.GateMode.HIDDEN_AVG);
        assertThat(c.dtype()).isEqualTo("f16");
        assertThat(c.expertsPerToken()).isEqualTo(1);
        assertThat(c.architecture()).isEqualTo("qwen");
        assertThat(c.experts()).hasSize(2);
        MergekitConfig.Expert a = c.experts().get(0);
        assertThat(a.sourceModel()).isEqualTo("a");
        assertThat(a.positivePrompts()).containsExactly("p1", "p2");
        assertThat(a.negativePrompts()).containsExactly("n1");
        assertThat(a.noiseScale()).isEqualTo(0.01);
        assertThat(a.residualScale()).isEqualTo(0.5);
        assertThat(c.experts().get(1).sourceModel()).isEqualTo("org/b@rev");
        assertThat(c.experts().get(1).noiseScale()).isNull();
        assertThat(c.sharedExperts()).singleElement().satisfies(s -> {
            assertThat(s.sourceModel()).isEqualTo("s");
            assertThat(s.residualScale()).isEqualTo(0.1);
        });
        assertThat(c.gates()).extracting(MergekitConfig.Expert::sourceModel).containsExactly("a", "org/b@rev", "s");
        assertThat(c.additions()).isEqualTo(new MergekitConfig.Additions(42L, "softmax-topk", "1MB", true, null,
                null, null, null, null, null));
    }

    @Test
    void defaultsAreMergekits() {
        MergekitConfig c = parse("""
                base_model: base
                experts:
                  - source_model: a
                    positive_prompts: ["x"]
                  - source_model: b
                    positive_prompts: ["y"]
                """);
        assertThat(c.gateMode()).isEqualTo(MergekitConfig.GateMode.HIDDEN_LAST);
        assertThat(c.expertsPerToken()).isEqualTo(2);
        assertThat(c.dtype()).isNull();
        assertThat(c.sharedExperts()).isEmpty();
        assertThat(c.architecture()).isNull();
        assertThat(c.additions()).isEqualTo(MergekitConfig.Additions.NONE);
    }

    @Test
    void gateModeAliasesAndDtypes() {
        String experts = "experts:\n  - source_model: a\n  - source_model: b\n";
        assertThat(parse("base_model: x\ngate_mode: hidden\n" + experts.replace("a\n", "a\n    positive_prompts: [p]\n")
                .replace("b\n", "b\n    positive_prompts: [q]\n")).gateMode())
                .isEqualTo(MergekitConfig.GateMode.HIDDEN_LAST);
        assertThat(parse("base_model: x\ngate_mode: uniform_random\n" + experts).gateMode())
                .isEqualTo(MergekitConfig.GateMode.UNIFORM_RANDOM);
        for (var d : List.of(List.of("float32", "f32"), List.of("bfloat16", "bf16"), List.of("torch.bfloat16", "bf16"))) {
            assertThat(parse("base_model: x\ngate_mode: random\ndtype: " + d.get(0) + "\n" + experts).dtype())
                    .isEqualTo(d.get(1));
        }
    }

    /** The first example of mergekit's moe.md ("Sparse upcycling of smol_llama into a 8x220M MoE"), verbatim. */
    @Test
    void mergekitsOwnExampleParses() {
        MergekitConfig c = parse("""
                base_model: BEE-spoke-data/smol_llama-220M-GQA
                gate_mode: random
                dtype: bfloat16
                experts:
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                  - source_model: BEE-spoke-data/smol_llama-220M-GQA
                # and then train the sucker!
                """);
        assertThat(c.experts()).hasSize(8);
        assertThat(c.gateMode()).isEqualTo(MergekitConfig.GateMode.RANDOM);
        assertThat(c.dtype()).isEqualTo("bf16");
    }

    /** moe.md's "clown car" example, with its quoted prompts and escapes. */
    @Test
    void mergekitsHiddenExampleParses() {
        MergekitConfig c = parse("""
                base_model: NousResearch/Hermes-2-Pro-Mistral-7B
                gate_mode: hidden
                dtype: bfloat16
                experts:
                  - source_model: NousResearch/Hermes-2-Pro-Mistral-7B
                    positive_prompts:
                      - "<|im_start|>user\\nHello, who are you?<|im_end|>"
                      - "<|im_start|>user\\nI need help with"
                  - source_model: BioMistral/BioMistral-7B-DARE
                    positive_prompts:
                      - "As a doctor of medicine,"
                """);
        assertThat(c.experts().get(0).positivePrompts().get(0)).isEqualTo("<|im_start|>user\nHello, who are you?<|im_end|>");
    }

    @Test
    void unknownKeysAreRefusedByNameWithTheClosestKnownOne() {
        assertThat(refused("base_model: x\nexperts_per_tok: 2\nexperts: [{source_model: a}]\ngate_mode: random\n")
                .getMessage()).contains("moe.yml key 'experts_per_tok'").contains("did you mean experts_per_token?");
        assertThat(refused("base_model: x\ngate_mode: random\nexperts:\n  - source_model: a\n    positive_prompt: [p]\n")
                .getMessage()).contains("key 'experts[0].positive_prompt'").contains("did you mean positive_prompts?");
        assertThat(refused("base_model: x\ngate_mode: random\nexperts: [{source_model: a}]\nupcycle: {sede: 1}\n")
                .getMessage()).contains("key 'upcycle.sede'").contains("did you mean seed?");
        assertThat(refused("merge_method: slerp\nbase_model: x\n").getMessage())
                .contains("key 'merge_method'").contains("mergekit-yaml");
    }

    @Test
    void badValuesAreRefusedNamingTheKey() {
        String ok = "base_model: x\ngate_mode: random\nexperts: [{source_model: a}, {source_model: b}]\n";
        assertThat(refused(ok.replace("random", "hiden")).getMessage()).contains("key 'gate_mode'")
                .contains("did you mean hidden?");
        assertThat(refused(ok + "dtype: int8\n").getMessage()).contains("key 'dtype'");
        assertThat(refused(ok + "experts_per_token: 3\n").getMessage()).contains("key 'experts_per_token'")
                .contains("more than the 2 experts");
        assertThat(refused(ok + "experts_per_token: 0\n").getMessage()).contains("key 'experts_per_token'");
        assertThat(refused(ok.replace("base_model: x\n", "")).getMessage()).contains("key 'base_model'")
                .contains("required");
        assertThat(refused("base_model: x\nexperts: []\n").getMessage()).contains("key 'experts'");
        assertThat(refused("base_model: x\ngate_mode: random\nexperts: [{source_model: a, noise_scale: -1}]\n")
                .getMessage()).contains("key 'experts[0].noise_scale'");
        assertThat(refused("base_model: x\ngate_mode: random\nexperts: [{source_model: a, residual_scale: abc}]\n")
                .getMessage()).contains("key 'experts[0].residual_scale'");
        assertThat(refused("base_model: x\ngate_mode: random\nexperts: [{source_model: a, positive_prompts: p}]\n")
                .getMessage()).contains("key 'experts[0].positive_prompts'").contains("list of strings");
        assertThat(refused(ok + "upcycle: {seed: 1.5}\n").getMessage()).contains("key 'upcycle.seed'");
        assertThat(refused(ok + "upcycle: {allow_nonfinite: maybe}\n").getMessage())
                .contains("key 'upcycle.allow_nonfinite'");
        assertThat(refused(ok + "shared_experts: {source_model: s}\n").getMessage()).contains("key 'shared_experts'");
        assertThat(refused("- a\n- b\n").getMessage()).contains("moe.yml the file");
        assertThat(refused("base_model: &a x\nexperts: [{source_model: *a}]\n").getMessage()).contains("anchors");
    }

    @Test
    void thisToolsKeysForAttentionExpertsGranularityAndScalingAreRead() {
        String ok = "base_model: x\ngate_mode: random\nexperts: [{source_model: a}, {source_model: b}]\n";
        MergekitConfig c = parse(ok + "upcycle:\n  attention: moa-shared-kv\n  attention_top_k: 1\n"
                + "  attention_router_init: zero\n  shared_kv_init: seed:1\n  granularity: 2\n  scaling: exact-down\n");
        assertThat(c.additions()).isEqualTo(new MergekitConfig.Additions(null, null, null, null, "exact-down", 2,
                "moa-shared-kv", 1, "zero", "seed:1"));
        assertThat(parse(ok + "upcycle: {attention: moa-separate}\n").additions().attentionTopK()).isNull();
        assertThat(refused(ok + "upcycle: {attention: moa-shared}\n").getMessage()).contains("key 'upcycle.attention'")
                .contains("did you mean moa-shared-kv?");
        assertThat(refused(ok + "upcycle: {attention: moa-separate, attention_top_k: 0}\n").getMessage())
                .contains("key 'upcycle.attention_top_k'").contains(">= 1");
        assertThat(refused(ok + "upcycle: {attention: moa-separate, attention_router_init: virtual}\n").getMessage())
                .contains("key 'upcycle.attention_router_init'");
        assertThat(refused(ok + "upcycle: {attention: moa-shared-kv, shared_kv_init: first}\n").getMessage())
                .contains("key 'upcycle.shared_kv_init'").contains("mean or seed:X");
        assertThat(refused(ok + "upcycle: {shared_kv_init: mean}\n").getMessage())
                .contains("key 'upcycle.shared_kv_init'").contains("attention experts only");
        assertThat(refused(ok + "upcycle: {granularity: 1.5}\n").getMessage()).contains("key 'upcycle.granularity'");
        assertThat(refused(ok + "upcycle: {scaling: exact_balanced}\n").getMessage()).contains("key 'upcycle.scaling'")
                .contains("did you mean exact-balanced?");
    }

    @Test
    void promptModesNeedPromptsThatTellExpertsApart() {
        assertThat(refused("base_model: x\ngate_mode: hidden\nexperts: [{source_model: a, positive_prompts: [p]}, "
                + "{source_model: b}]\n").getMessage()).contains("key 'experts[1].positive_prompts'")
                .contains("gate_mode hidden_last");
        assertThat(refused("base_model: x\ngate_mode: cheap_embed\nexperts: [{source_model: a, positive_prompts: [p]}, "
                + "{source_model: b, positive_prompts: [p]}]\n").getMessage()).contains("key 'experts'")
                .contains("same prompts");
        // random gates need no prompts at all, as in mergekit
        assertThat(parse("base_model: x\ngate_mode: random\nexperts: [{source_model: a}, {source_model: a}]\n")
                .experts()).hasSize(2);
    }
}
