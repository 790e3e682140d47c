package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import org.junit.jupiter.api.Test;

/** The estimate against figures worked out by hand from the tensor list. */
class MemoryEstimateTest {

    /**
     * Llama, V=10, d=8, f=12, 1 layer, 2 heads (hd 4), 1 kv head, untied. Matrices: embed 80, q 64,
     * k 32, v 32, o 64, gate/up/down 96 each, lm_head 80 = 640 elements; norms 3 × 8 = 24.
     */
    private static ModelConfig dense() {
        return ModelConfig.builder(FamilyRegistry.builtIn().byName("llama")).vocabSize(10).hiddenSize(8)
                .intermediateSize(12).numHiddenLayers(1).numAttentionHeads(2).numKeyValueHeads(1)
                .rmsNormEps(1e-5).maxPositionEmbeddings(64).build();
    }

    @Test
    void sampleOfASixteenBitModel() {
        MemoryEstimate e = MemoryEstimate.sample(dense(), true, 3, 5);
        assertThat(e.weights()).isEqualTo(640 * 2 + 24 * 4);
        // K and V of one kv head of 4 per token (8 floats), for 5 positions, plus one layer's copy
        assertThat(e.kvCache()).isEqualTo(4 * 5 * (8 + 8));
        // the widest matrix widened (96 floats) + the prompt step: 3 tokens × (2V + 3f + 8d + 4·q + 2·heads·5)
        assertThat(e.activations()).isEqualTo(4 * 96 + 4 * 3 * (20 + 36 + 64 + 32 + 20));
        assertThat(e.optimizer()).isZero();
        assertThat(e.nativeBytes()).isEqualTo(1376 + 320 + 2448 + MemoryEstimate.RUNTIME);
    }

    @Test
    void sampleOfAnFp32ModelWidensNothing() {
        MemoryEstimate e = MemoryEstimate.sample(dense(), false, 3, 5);
        assertThat(e.weights()).isEqualTo(664 * 4);
        assertThat(e.activations()).isEqualTo(4 * 3 * 172);
    }

    @Test
    void trainCountsParametersGradientsMomentsAndOneMicroBatch() {
        MemoryEstimate e = MemoryEstimate.train(dense(), 2, 3);
        assertThat(e.weights()).isEqualTo(664 * 4);
        assertThat(e.optimizer()).isEqualTo(3 * 664 * 4);
        // per token: attention 10d + 4q + 6kv + 2·heads·T = 80 + 32 + 24 + 12, MLP 5f = 60; logits 3V = 30
        // and the backward pass's peak over what it saves
        assertThat(e.activations()).isEqualTo((long) (MemoryEstimate.BACKWARD_PEAK * 4 * 6 * (148 + 60 + 30)));
        assertThat(e.heap()).isEqualTo(2 * 4 * 96);
    }

    /** Mixtral, 4 experts top-2 of width 12: a sparse layer keeps k·(d + 5m) + 3E floats a token. */
    @Test
    void trainOfAnMoeCountsTheRoutedCopies() {
        ModelConfig c = ModelConfig.builder(FamilyRegistry.builtIn().byName("mixtral")).vocabSize(10).hiddenSize(8)
                .intermediateSize(12).numHiddenLayers(1).numAttentionHeads(2).numKeyValueHeads(1)
                .rmsNormEps(1e-5).maxPositionEmbeddings(64).numExperts(4).numExpertsPerTok(2).build();
        MemoryEstimate e = MemoryEstimate.train(c, 1, 2);
        // embed 80, attention 192, router 32, 4 experts × 288, lm_head 80; norms 24
        long params = 80 + 192 + 32 + 4 * 288 + 80 + 24;
        assertThat(e.weights()).isEqualTo(4 * params);
        assertThat(e.activations()).isEqualTo((long) (MemoryEstimate.BACKWARD_PEAK
                * 4 * 2 * ((80 + 32 + 24 + 2 * 2 * 2) + 2 * (8 + 60) + 12 + 30)));
    }

    @Test
    void theRefusalSaysWhatToChange() {
        MemoryEstimate need = MemoryEstimate.train(dense(), 2, 3);
        long fixed = need.weights() + need.optimizer() + MemoryEstimate.RUNTIME;
        assertThat(MemoryEstimate.gb(81_049_000_000L)).isEqualTo("81.0 GB");
        assertThat(MemoryEstimate.gb(540_000_000L)).isEqualTo("0.54 GB");
        // the activations are what does not fit: lower the batch
        assertThatThrownBy(() -> MemoryCheck.require("m", need, new MemoryAvailable(fixed, 1L << 40, "test"), "--batch"))
                .isInstanceOfSatisfying(dev.upcycle.error.UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(dev.upcycle.error.ErrorKind.OutOfMemory);
                    assertThat(e.hint()).startsWith("lower --batch");
                });
        // the model alone does not fit: no setting helps
        assertThatThrownBy(() -> MemoryCheck.require("m", need, new MemoryAvailable(fixed - 1, 1L << 40, "test"),
                "--batch")).hasMessageContaining("needs about").isInstanceOfSatisfying(
                        dev.upcycle.error.UpcycleException.class, e -> assertThat(e.hint()).startsWith("the model alone"));
        // the heap is short: name the JVM option
        assertThatThrownBy(() -> MemoryCheck.require("m", need, new MemoryAvailable(1L << 40, 10, "test"), "--batch"))
                .isInstanceOfSatisfying(dev.upcycle.error.UpcycleException.class,
                        e -> assertThat(e.hint()).contains("UPCYCLE_JAVA_OPTS=-Xmx"));
        MemoryCheck.require("m", need, new MemoryAvailable(need.nativeBytes(), need.heap(), "test"), "--batch");
    }

    @Test
    void absurdSizesSaturateInsteadOfOverflowing() {
        MemoryEstimate e = MemoryEstimate.sample(dense(), false, Integer.MAX_VALUE, Integer.MAX_VALUE);
        assertThat(e.nativeBytes()).isEqualTo(Long.MAX_VALUE);
        assertThat(MemoryEstimate.train(dense(), Integer.MAX_VALUE, Integer.MAX_VALUE).nativeBytes())
                .isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void availableMemoryReadsMeminfoAndTheCgroupLimit(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
            throws java.io.IOException {
        java.nio.file.Path meminfo = tmp.resolve("meminfo");
        java.nio.file.Files.writeString(meminfo, "MemTotal:       24000000 kB\nMemAvailable:   1000 kB\n");
        assertThat(MemoryAvailable.memAvailable(meminfo)).contains(1000L * 1024);
        java.nio.file.Files.writeString(tmp.resolve("memory.max"), "5000\n");
        java.nio.file.Files.writeString(tmp.resolve("memory.current"), "1200\n");
        assertThat(MemoryAvailable.cgroupHeadroom(tmp)).contains(3800L);
        java.nio.file.Files.writeString(tmp.resolve("memory.max"), "max\n");
        assertThat(MemoryAvailable.cgroupHeadroom(tmp)).isEmpty();
    }
}
