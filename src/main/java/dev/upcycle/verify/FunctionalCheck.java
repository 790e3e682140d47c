package dev.upcycle.verify;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.runtime.Attention;
import dev.upcycle.runtime.LayerStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Functional equivalence of a converted model with its dense source: both run side by side,
 * one layer at a time ({@link LayerStream}: only hidden states persist), each model's own hidden
 * states flowing through its own layers, on fixed token sequences of lengths 1, 7 and
 * {@code max(tokens, window + 16)}; the hidden states after every layer and the final logits are
 * compared with {@link #relError}.
 */
public final class FunctionalCheck {
    /** Default tolerance for F32 weights (the runtime computes in FP32). */
    public static final double F32_TOLERANCE = 1e-5;
    /**
     * Default when either model holds F16 weights: 10 bits of significand, unit roundoff
     * 2^-11 ≈ 4.9e-4 per weight, a few times that after the layers.
     */
    public static final double F16_TOLERANCE = 1e-3;
    /**
     * Default when either model holds BF16 weights: 7 bits of significand, unit roundoff
     * 2^-8 ≈ 3.9e-3 per weight (a dense F32 model converted to BF16 differs by that much per
     * weight), a few times that after the layers.
     */
    public static final double BF16_TOLERANCE = 1e-2;
    /** Seed of the fixed token sequences. */
    static final long SEED = 0x5EED_0001L;

    private final FamilyRegistry registry;

    public FunctionalCheck(FamilyRegistry registry) {
        this.registry = registry;
    }

    /**
     * @param tolerance null for the default of the weights' dtypes
     * @param tokens    length of the long sequence (at least 64 recommended)
     * @throws UpcycleException ImpossibleCombination when the dense model cannot be the source
     *                          (vocabulary, hidden size or layer count differ); any error reading
     *                          the dense model (exit 3)
     */
    public FunctionalResult run(Path converted, Path dense, Double tolerance, int tokens) {
        ModelConfig moeConfig = config(converted);
        ModelConfig denseConfig = config(dense);
        requireComparable(moeConfig, denseConfig, converted, dense);
        List<int[]> sequences = sequences(moeConfig, denseConfig, tokens);
        try (LayerStream a = LayerStream.open(converted, registry, sequences);
             LayerStream b = LayerStream.open(dense, registry, sequences)) {
            double tol;
            String basis;
            if (tolerance != null) {
                tol = tolerance;
                basis = "--tolerance";
            } else {
                DType coarsest = coarsest(a.source().dtypes(), b.source().dtypes());
                tol = switch (coarsest) {
                    case BF16 -> BF16_TOLERANCE;
                    case F16 -> F16_TOLERANCE;
                    default -> F32_TOLERANCE;
                };
                basis = "default for " + coarsest + " weights";
            }
            List<Double> errors = new ArrayList<>();
            int first = -1;
            while (a.hasNext()) {
                double e = relError(a.step(), b.step());
                if (first < 0 && !(e <= tol)) {
                    first = errors.size();
                }
                errors.add(e);
            }
            double logits = relError(a.logits(), b.logits());
            return new FunctionalResult(dense.toString(), tol, basis,
                    sequences.stream().map(s -> s.length).toList(), errors, logits, first);
        }
    }

    /** The check as a report line. */
    public static CheckResult asCheck(FunctionalResult r) {
        String errors = String.format("logits error %.3g, tolerance %.3g (%s)", r.logitsError(), r.tolerance(),
                r.toleranceBasis());
        if (r.passed()) {
            return CheckResult.pass("functional", "matches " + r.against() + " on every layer; " + errors);
        }
        List<String> problems = new ArrayList<>();
        if (r.firstDivergent() >= 0) {
            problems.add(String.format("layer %d diverges first: relative error %.3g > %.3g", r.firstDivergent(),
                    r.layerErrors().get(r.firstDivergent()), r.tolerance()));
        }
        if (!(r.logitsError() <= r.tolerance())) {
            problems.add(String.format("final logits: relative error %.3g > %.3g", r.logitsError(), r.tolerance()));
        }
        return new CheckResult("functional", CheckResult.Status.FAIL,
                "differs from " + r.against() + (r.firstDivergent() >= 0 ? " from layer " + r.firstDivergent() : "")
                        + "; " + errors, problems);
    }

    /** {@code max|a − b| / max|b|} over all sequences together (NaN anywhere gives NaN). */
    public static double relError(List<float[]> a, List<float[]> b) {
        double diff = 0;
        double scale = 0;
        for (int s = 0; s < a.size(); s++) {
            float[] x = a.get(s);
            float[] y = b.get(s);
            for (int i = 0; i < x.length; i++) {
                double d = Math.abs((double) x[i] - y[i]);
                if (Double.isNaN(d)) {
                    return Double.NaN;
                }
                diff = Math.max(diff, d);
                scale = Math.max(scale, Math.abs(y[i]));
            }
        }
        return scale == 0 ? diff : diff / scale;
    }

    /** Lengths 1, 7 and {@code max(tokens, window + 16)}, ids drawn from a fixed seed. */
    static List<int[]> sequences(ModelConfig a, ModelConfig b, int tokens) {
        int window = 0;
        for (ModelConfig c : List.of(a, b)) {
            for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
                Integer w = Attention.window(c, layer);
                if (w != null) {
                    window = Math.max(window, w);
                }
            }
        }
        int longest = Math.max(tokens, window > 0 ? window + 16 : 0);
        SplittableRandom random = new SplittableRandom(SEED);
        List<int[]> out = new ArrayList<>();
        for (int length : new int[] {1, 7, longest}) {
            out.add(random.ints(length, 0, a.vocabSize()).toArray());
        }
        return out;
    }

    private ModelConfig config(Path dir) {
        return ModelConfig.read(ModelFiles.of(dir).file("config.json", ErrorKind.InvalidConfig), registry);
    }

    private static void requireComparable(ModelConfig moe, ModelConfig dense, Path converted, Path source) {
        List<String> diffs = new ArrayList<>();
        if (moe.vocabSize() != dense.vocabSize()) {
            diffs.add("vocab_size " + moe.vocabSize() + " vs " + dense.vocabSize());
        }
        if (moe.hiddenSize() != dense.hiddenSize()) {
            diffs.add("hidden_size " + moe.hiddenSize() + " vs " + dense.hiddenSize());
        }
        if (moe.numHiddenLayers() != dense.numHiddenLayers()) {
            diffs.add("num_hidden_layers " + moe.numHiddenLayers() + " vs " + dense.numHiddenLayers());
        }
        if (!diffs.isEmpty()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, converted + " --against " + source,
                    "the dense model cannot be the source of this one: " + String.join(", ", diffs),
                    "pass the dense checkpoint the model was converted from");
        }
    }

    private static DType coarsest(Map<DType, Long> a, Map<DType, Long> b) {
        DType worst = DType.F32;
        for (Map<DType, Long> m : List.of(a, b)) {
            if (m.containsKey(DType.BF16)) {
                return DType.BF16;
            }
            if (m.containsKey(DType.F16)) {
                worst = DType.F16;
            }
        }
        return worst;
    }
}
