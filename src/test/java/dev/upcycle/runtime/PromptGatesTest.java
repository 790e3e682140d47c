package dev.upcycle.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.reference.ReferenceModel;
import dev.upcycle.runtime.PromptGates.GatePrompts;
import dev.upcycle.runtime.PromptGates.Mode;
import dev.upcycle.testing.TinyModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Gate rows from prompts as mergekit-moe defines them: against the input of each layer computed
 * by the double-precision reference model on every family the runtime reads, and metamorphic
 * relations that must hold exactly whatever the weights.
 */
class PromptGatesTest {
    static final double TOLERANCE = 1e-5;

    @TempDir
    static Path shared;

    /** A 2-layer qwen3 (d=32, vocabulary 97) for the metamorphic relations. */
    static Path model;

    static final int[] A = {3, 14, 15, 92, 65};
    static final int[] B = {35, 89, 79};
    static final int[] C = {32, 38, 46, 26, 43, 38, 32};
    static final int[] E = {2, 71, 82, 81};

    @BeforeAll
    static void tinyModel() {
        model = TinyModels.random(shared.resolve("qwen3"), "qwen3", DType.F32, b -> { });
    }

    static Stream<Arguments> families() {
        return Stream.of(
                Arguments.of("llama", (Consumer<ModelConfig.Builder>) b -> { }),
                Arguments.of("mistral", (Consumer<ModelConfig.Builder>) b -> b.slidingWindow(3)),
                Arguments.of("qwen2", (Consumer<ModelConfig.Builder>) b -> b.tieWordEmbeddings(true)),
                Arguments.of("qwen3", (Consumer<ModelConfig.Builder>) b -> b.headDim(16)));
    }

    /**
     * Each layer's input from the reference (the embeddings, then the residual stream after the
     * previous layer), the last token's or the mean over tokens, averaged over the prompts,
     * positive minus negative, then unit length: computed here in double, apart from the code.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void hiddenGatesMatchTheReferenceModelsLayerInputs(String family, Consumer<ModelConfig.Builder> tweak,
                                                       @TempDir Path tmp) {
        Path dir = TinyModels.random(tmp.resolve("m"), family, DType.F32, tweak);
        List<GatePrompts> gates = List.of(new GatePrompts(List.of(A, B), List.of(C)),
                new GatePrompts(List.of(E), List.of()));
        for (Mode mode : List.of(Mode.HIDDEN_LAST, Mode.HIDDEN_AVG)) {
            float[][] got = PromptGates.compute(dir, TinyModels.FAMILIES, mode, gates);
            double[][] want = referenceGates(dir, mode, gates);
            assertThat(got).hasNumberOfRows(2);
            for (int layer = 0; layer < 2; layer++) {
                assertThat(got[layer]).hasSize(2 * 32);
                for (int j = 0; j < want[layer].length; j++) {
                    assertThat((double) got[layer][j]).as("%s layer %d element %d", mode, layer, j)
                            .isCloseTo(want[layer][j], within(TOLERANCE));
                }
            }
            // The two layer inputs differ: layer 1's row is not the embedding's.
            assertThat(distance(got[0], got[1])).isGreaterThan(1e-2);
        }
    }

    private static double[][] referenceGates(Path dir, Mode mode, List<GatePrompts> gates) {
        try (ReferenceModel ref = ReferenceModel.open(dir)) {
            int d = ref.config().hiddenSize();
            int layers = ref.config().numHiddenLayers();
            double[] embed = ref.tensor("model.embed_tokens.weight");
            double[][] out = new double[layers][gates.size() * d];
            for (int layer = 0; layer < layers; layer++) {
                for (int g = 0; g < gates.size(); g++) {
                    double[] row = referenceMean(ref, embed, layer, mode, gates.get(g).positive());
                    if (!gates.get(g).negative().isEmpty()) {
                        double[] neg = referenceMean(ref, embed, layer, mode, gates.get(g).negative());
                        for (int j = 0; j < d; j++) {
                            row[j] -= neg[j];
                        }
                    }
                    double norm = Math.sqrt(Arrays.stream(row).map(x -> x * x).sum());
                    for (int j = 0; j < d; j++) {
                        out[layer][g * d + j] = row[j] / norm;
                    }
                }
            }
            return out;
        }
    }

    private static double[] referenceMean(ReferenceModel ref, double[] embed, int layer, Mode mode, List<int[]> prompts) {
        int d = ref.config().hiddenSize();
        double[] mean = new double[d];
        for (int[] ids : prompts) {
            double[][] input = new double[ids.length][];
            if (layer == 0) {
                for (int t = 0; t < ids.length; t++) {
                    input[t] = Arrays.copyOfRange(embed, ids[t] * d, ids[t] * d + d);
                }
            } else {
                input = ref.trace(ids).hidden().get(layer - 1);
            }
            for (int t = mode == Mode.HIDDEN_LAST ? ids.length - 1 : 0; t < ids.length; t++) {
                double share = mode == Mode.HIDDEN_LAST ? 1 : 1.0 / ids.length;
                for (int j = 0; j < d; j++) {
                    mean[j] += input[t][j] * share / prompts.size();
                }
            }
        }
        return mean;
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void swappingTwoExpertsPromptsSwapsTheirRowsExactly(Mode mode) {
        GatePrompts first = new GatePrompts(List.of(A, B), List.of(C));
        GatePrompts second = new GatePrompts(List.of(E), List.of());
        GatePrompts third = new GatePrompts(List.of(C, A), List.of());
        float[][] abc = PromptGates.compute(model, TinyModels.FAMILIES, mode, List.of(first, second, third));
        float[][] bac = PromptGates.compute(model, TinyModels.FAMILIES, mode, List.of(second, first, third));
        for (int layer = 0; layer < abc.length; layer++) {
            assertThat(gate(bac, layer, 0)).isEqualTo(gate(abc, layer, 1));
            assertThat(gate(bac, layer, 1)).isEqualTo(gate(abc, layer, 0));
            assertThat(gate(bac, layer, 2)).isEqualTo(gate(abc, layer, 2));
            assertThat(gate(abc, layer, 0)).isNotEqualTo(gate(abc, layer, 1));
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void identicalPromptsGiveIdenticalRows(Mode mode) {
        GatePrompts p = new GatePrompts(List.of(A, C), List.of(B));
        float[][] rows = PromptGates.compute(model, TinyModels.FAMILIES, mode,
                List.of(p, new GatePrompts(List.of(E), List.of()), new GatePrompts(List.of(A.clone(), C.clone()),
                        List.of(B.clone()))));
        for (int layer = 0; layer < rows.length; layer++) {
            assertThat(gate(rows, layer, 2)).isEqualTo(gate(rows, layer, 0));
        }
    }

    @Test
    void cheapEmbedRowsAreEqualAcrossLayersAndAreTheNormalisedEmbeddingSum() {
        float[][] rows = PromptGates.compute(model, TinyModels.FAMILIES, Mode.CHEAP_EMBED,
                List.of(new GatePrompts(List.of(A, B), List.of()), new GatePrompts(List.of(E), List.of(C))));
        assertThat(rows).hasNumberOfRows(2);
        assertThat(rows[1]).isEqualTo(rows[0]);
        try (ReferenceModel ref = ReferenceModel.open(model)) {
            double[] embed = ref.tensor("model.embed_tokens.weight");
            double[] a = unit(embeddingSum(embed, A, B));
            double[] e = unit(embeddingSum(embed, E));
            double[] c = unit(embeddingSum(embed, C));
            double[] ec = new double[32];
            for (int j = 0; j < 32; j++) {
                ec[j] = e[j] - c[j];
            }
            ec = unit(ec);
            for (int j = 0; j < 32; j++) {
                assertThat((double) rows[0][j]).isCloseTo(a[j], within(TOLERANCE));
                assertThat((double) rows[0][32 + j]).isCloseTo(ec[j], within(TOLERANCE));
            }
        }
    }

    /** Swapping positive and negative prompts negates the row; equal positive and negative prompts give zero. */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void negativePromptsSubtract(Mode mode) {
        float[][] rows = PromptGates.compute(model, TinyModels.FAMILIES, mode, List.of(
                new GatePrompts(List.of(A, B), List.of(C)), new GatePrompts(List.of(C), List.of(A, B)),
                new GatePrompts(List.of(E), List.of(E)), new GatePrompts(List.of(A, B), List.of())));
        for (int layer = 0; layer < rows.length; layer++) {
            float[] minus = gate(rows, layer, 1);
            for (int j = 0; j < minus.length; j++) {
                minus[j] = -minus[j];
            }
            assertThat(gate(rows, layer, 0)).isEqualTo(minus);
            assertThat(gate(rows, layer, 2)).containsOnly(0f);
            assertThat(distance(gate(rows, layer, 0), gate(rows, layer, 3))).isGreaterThan(1e-2);
        }
    }

    /** Each prompt listed twice is the same mean (and, for cheap_embed, the same direction). */
    @ParameterizedTest
    @EnumSource(Mode.class)
    void aDuplicatedPromptListGivesTheSameRow(Mode mode) {
        float[][] once = PromptGates.compute(model, TinyModels.FAMILIES, mode,
                List.of(new GatePrompts(List.of(A, B), List.of(C))));
        float[][] twice = PromptGates.compute(model, TinyModels.FAMILIES, mode,
                List.of(new GatePrompts(List.of(A, B, A, B), List.of(C, C, C))));
        for (int layer = 0; layer < once.length; layer++) {
            assertThat(distance(once[layer], twice[layer])).isLessThan(1e-6);
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void everyRowHasUnitLength(Mode mode) {
        float[][] rows = PromptGates.compute(model, TinyModels.FAMILIES, mode, List.of(
                new GatePrompts(List.of(A), List.of()), new GatePrompts(List.of(B, C), List.of(E)),
                new GatePrompts(List.of(new int[] {7}), List.of())));
        for (int layer = 0; layer < rows.length; layer++) {
            for (int g = 0; g < 3; g++) {
                float[] row = gate(rows, layer, g);
                assertThat(norm(row)).as("layer %d gate %d", layer, g).isCloseTo(1.0, within(1e-6));
            }
        }
    }

    @Test
    void aTokenOutsideTheVocabularyIsBadInputNamingThePrompt() {
        assertThatThrownBy(() -> PromptGates.compute(model, TinyModels.FAMILIES, Mode.HIDDEN_LAST,
                List.of(new GatePrompts(List.of(A), List.of()), new GatePrompts(List.of(B), List.of(new int[] {5, 97})))))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.ImpossibleCombination);
                    assertThat(e.exitCode().code()).isEqualTo(3);
                    assertThat(e.where()).isEqualTo("gate 1, negative prompt 0");
                    assertThat(e.why()).contains("token id 97", "vocabulary of 97");
                });
    }

    @Test
    void noGatesNoPositivePromptsAndEmptyPromptsAreBadInput() {
        assertThatThrownBy(() -> PromptGates.compute(model, TinyModels.FAMILIES, Mode.CHEAP_EMBED, List.of()))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.InvalidData));
        assertThatThrownBy(() -> PromptGates.compute(model, TinyModels.FAMILIES, Mode.HIDDEN_LAST,
                List.of(new GatePrompts(List.of(A), null), new GatePrompts(List.of(), List.of(B)))))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidData);
                    assertThat(e.line()).contains("gate 1", "no positive prompts");
                });
        assertThatThrownBy(() -> PromptGates.compute(model, TinyModels.FAMILIES, Mode.HIDDEN_AVG,
                List.of(new GatePrompts(List.of(A, new int[0]), List.of()))))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.InvalidData);
                    assertThat(e.where()).isEqualTo("gate 0, positive prompt 1");
                });
    }

    private static float[] gate(float[][] rows, int layer, int g) {
        return Arrays.copyOfRange(rows[layer], g * 32, g * 32 + 32);
    }

    private static double[] embeddingSum(double[] embed, int[]... prompts) {
        double[] sum = new double[32];
        for (int[] ids : prompts) {
            for (int id : ids) {
                for (int j = 0; j < 32; j++) {
                    sum[j] += embed[id * 32 + j];
                }
            }
        }
        return sum;
    }

    private static double[] unit(double[] v) {
        double n = Math.sqrt(Arrays.stream(v).map(x -> x * x).sum());
        return Arrays.stream(v).map(x -> x / n).toArray();
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) {
            s += (double) x * x;
        }
        return Math.sqrt(s);
    }

    private static double distance(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
        }
        return Math.sqrt(s);
    }
}
