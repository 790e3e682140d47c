package dev.upcycle.convert;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.upcycle.moe.LayerSelection;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.testing.TinyModels;

/** Conversion settings and requests for convert tests (the models come from {@link TinyModels}). */
final class ConvertFixtures {
    private ConvertFixtures() {
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
        return new Converter(TinyModels.FAMILIES);
    }

    static int[] tokens(int vocab, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = (i * 37 + 11) % vocab;
        }
        return t;
    }
}
