package dev.upcycle.convert;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.upcycle.io.DType;
import dev.upcycle.model.Family;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.LayerSelection;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.synth.Synthesizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/** Tiny dense checkpoints written by {@code synth}, and conversion settings, for convert tests. */
final class ConvertFixtures {
    static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();

    private ConvertFixtures() {
    }

    /** A 2-layer model of {@code family}: d=32, 4 heads (2 kv) of 8, F=64, V=64. */
    static Path dense(Path dir, String family, DType dtype, UnaryOperator<ModelConfig.Builder> tweak) {
        Family f = FAMILIES.byName(family);
        ModelConfig.Builder b = ModelConfig.builder(f).numHiddenLayers(2).hiddenSize(32).numAttentionHeads(4)
                .numKeyValueHeads(2).headDim(8).intermediateSize(64).vocabSize(64).maxPositionEmbeddings(256);
        if (f.declares("sliding_window")) {
            b.slidingWindow(null);
        }
        ModelConfig config = tweak.apply(b).build();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Synthesizer.write(config, dtype, 7, 1L << 40, dir);
        return dir;
    }

    /** The llama fixture of {@link #dense} with parallel blocks and {@code norms} norms per block (native format). */
    static Path parallel(Path dir, int norms, long seed) {
        ModelConfig llama = ModelConfig.builder(FAMILIES.byName("llama")).numHiddenLayers(2).hiddenSize(32)
                .numAttentionHeads(4).numKeyValueHeads(2).headDim(8).intermediateSize(64).vocabSize(64)
                .maxPositionEmbeddings(256).build();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Synthesizer.write(Synthesizer.parallelBlocks(llama, norms), DType.F32, seed, 1L << 40, dir);
        return dir;
    }

    static Path dense(Path dir, String family) {
        return dense(dir, family, DType.F32, b -> b);
    }

    static Converter.Settings settings() {
        return new Converter.Settings(false, false, "test", JsonNodeFactory.instance.objectNode());
    }

    static UpcycleRequest request(UpcycleSpec spec, String target) {
        return UpcycleRequest.of(spec).withTarget(target);
    }

    static UpcycleRequest request(UpcycleSpec spec, String target, String layers) {
        return request(spec, target).withLayers(LayerSelection.parse(layers));
    }

    static Converter converter() {
        return new Converter(FAMILIES);
    }

    static int[] tokens(int vocab, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (i * 37 + 11) % vocab;
        }
        return t;
    }
}
