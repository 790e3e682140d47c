package dev.upcycle.moe;

import static dev.upcycle.moe.UpcycleSpecTest.rejects;
import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.error.ErrorKind;
import org.junit.jupiter.api.Test;

/**
 * Expert layout (docs/method.md, "Fine-grained experts" and "Shared experts") and its model-dependent
 * constraints.
 */
class ExpertLayoutTest {

    @Test
    void shardsAndGroupsFollowMegatron() {
        ExpertLayout l = ExpertLayout.of(UpcycleSpec.builder().expansion(2).granularity(4).topK(4).build(), 32);
        assertThat(l.expertIntermediate()).isEqualTo(8);
        assertThat(l.expansion()).isEqualTo(2);
        assertThat(l.shard(5)).isEqualTo(1);
        assertThat(l.group(5)).isEqualTo(1);
        assertThat(l.gateUpRows(5)).isEqualTo(new IndexRange(8, 16));
        assertThat(l.downColumns(7)).isEqualTo(new IndexRange(24, 32));
        assertThat(l.hasSharedExpert()).isFalse();
        assertThat(l.sharedNeurons().isEmpty()).isTrue();
    }

    @Test
    void splitSharedExpertTakesTheFirstNeurons() {
        UpcycleSpec spec = UpcycleSpec.builder().expansion(2).granularity(2).topK(2)
                .sharedExpert(SharedExpertMode.SPLIT, 8).build();
        ExpertLayout l = ExpertLayout.of(spec, 32);
        assertThat(l.sharedNeurons()).isEqualTo(new IndexRange(0, 8));
        assertThat(l.expertIntermediate()).isEqualTo(12);
        assertThat(l.neurons(0)).isEqualTo(new IndexRange(8, 20));
        assertThat(l.neurons(3)).isEqualTo(new IndexRange(20, 32));
        assertThat(l.routedIntermediate()).isEqualTo(24);
        assertThat(l.routedDownZeroed()).isFalse();
    }

    @Test
    void fullCopySharedExpertIsTheWholeFfn() {
        UpcycleSpec spec = UpcycleSpec.builder().expansion(2).granularity(2).topK(2)
                .sharedExpert(SharedExpertMode.FULL_COPY, 0).build();
        ExpertLayout l = ExpertLayout.of(spec, 32);
        assertThat(l.sharedNeurons()).isEqualTo(new IndexRange(0, 32));
        assertThat(l.neurons(1)).isEqualTo(new IndexRange(16, 32));
        assertThat(l.routedDownZeroed()).isTrue();
    }

    @Test
    void widthConstraintsNameBothNumbers() {
        rejects(() -> ExpertLayout.of(UpcycleSpec.of(6, 3, 3), 32), ErrorKind.ImpossibleCombination,
                "F=32 is not divisible by granularity G=3");
        UpcycleSpec shared = UpcycleSpec.builder().expansion(2).granularity(4).topK(4)
                .sharedExpert(SharedExpertMode.SPLIT, 6).build();
        rejects(() -> ExpertLayout.of(shared, 32), ErrorKind.ImpossibleCombination,
                "F - F_s = 32 - 6 = 26 is not divisible by granularity G=4");
        UpcycleSpec tooWide = shared.toBuilder().sharedExpertSize(32).build();
        rejects(() -> ExpertLayout.of(tooWide, 32), ErrorKind.ImpossibleCombination, "F_s=32");
        UpcycleSpec fullSized = shared.toBuilder().sharedExpert(SharedExpertMode.FULL_COPY, 16).build();
        rejects(() -> ExpertLayout.of(fullSized, 32), ErrorKind.ImpossibleCombination, "F=32, not 16");
    }
}
