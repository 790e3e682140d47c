package dev.upcycle.verify;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.Fidelity;
import dev.upcycle.runtime.LayerStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
     * How far the plan says the converted model may differ from the dense one, which decides the
     * bound the measurement is held to (see {@link #bound}).
     *
     * @param fidelity          the plan's step-0 verdict with its predicted error
     * @param weightsUnchanged  the weight check found every tensor equal to the dense model's values
     *                          (copies in the source dtype): both models compute on identical numbers
     * @param strict            hold a non-exact plan to the exact bound anyway ({@code --strict})
     */
    public record Expectation(Fidelity fidelity, boolean weightsUnchanged, boolean strict) {
    }

    /**
     * How much a measurement may exceed the plan's predicted error: twice the prediction, plus the
     * rounding tolerance of the weights' dtype. The prediction is the worst case measured on small
     * random layers (docs/method.md, "Measured errors"), so a real model usually stays well below it.
     */
    public static final double PREDICTION_MARGIN = 2.0;

    /**
     * @param tolerance null for the default of the weights' dtypes
     * @param tokens    length of the long sequence (at least 64 recommended)
     * @throws UpcycleException ImpossibleCombination when the dense model cannot be the source
     *                          (vocabulary, hidden size or layer count differ); any error reading
     *                          the dense model (exit 3)
     */
    public FunctionalResult run(Path converted, Path dense, Double tolerance, int tokens) {
        return run(converted, dense, tolerance, tokens, null);
    }

    /** As above; {@code expected} (null when no plan was found) decides the default bound. */
    public FunctionalResult run(Path converted, Path dense, Double tolerance, int tokens, Expectation expected) {
        ModelConfig moeConfig = config(converted);
        ModelConfig denseConfig = config(dense);
        requireComparable(moeConfig, denseConfig, converted, dense);
        List<int[]> sequences = sequences(moeConfig, denseConfig, tokens);
        try (LayerStream a = LayerStream.open(converted, registry, sequences);
             LayerStream b = LayerStream.open(dense, registry, sequences)) {
            Bound bound = bound(tolerance, coarsest(a.source().dtypes(), b.source().dtypes()), expected);
            double tol = bound.value();
            List<Double> errors = new ArrayList<>();
            int first = -1;
            while (a.hasNext()) {
                double e = relError(a.step(), b.step());
                if (first < 0 && !Double.isNaN(tol) && !(e <= tol)) {
                    first = errors.size();
                }
                errors.add(e);
            }
            double logits = relError(a.logits(), b.logits());
            Fidelity f = expected == null ? null : expected.fidelity();
            return new FunctionalResult(dense.toString(), tol, bound.basis(),
                    sequences.stream().map(s -> s.length).toList(), errors, logits, first,
                    f == null ? null : verdictName(f.verdict()),
                    f == null || f.expectedRelativeError().isEmpty() ? null : f.expectedRelativeError().getAsDouble());
        }
    }

    /**
     * Refuses a dense model that cannot be the source of {@code converted} (vocabulary, hidden
     * size or layer count differ) before anything else reads it.
     */
    public void requireComparable(Path converted, Path dense) {
        requireComparable(config(converted), config(dense), converted, dense);
    }

    /** A bound and why; NaN when the measurement is reported but held to none. */
    record Bound(double value, String basis) {
    }

    /**
     * The bound: {@code --tolerance} when given; f32 arithmetic when the plan is exact and the
     * weights are the dense model's own values; the dtype's default when the plan is exact (or
     * {@code --strict}, or no plan is known); the prediction times {@link #PREDICTION_MARGIN} plus the
     * dtype's default when the plan predicts an error; none when it predicts none.
     */
    static Bound bound(Double tolerance, DType coarsest, Expectation expected) {
        if (tolerance != null) {
            return new Bound(tolerance, "--tolerance");
        }
        double byDtype = switch (coarsest) {
            case BF16 -> BF16_TOLERANCE;
            case F16 -> F16_TOLERANCE;
            default -> F32_TOLERANCE;
        };
        String dtypeBasis = "default for " + coarsest + " weights";
        if (expected == null) {
            return new Bound(byDtype, dtypeBasis);
        }
        Fidelity f = expected.fidelity();
        if (f.isExact()) {
            return expected.weightsUnchanged()
                    ? new Bound(F32_TOLERANCE, "exact plan and every weight equal to the dense model's: f32 arithmetic")
                    : new Bound(byDtype, "exact plan, " + dtypeBasis);
        }
        if (expected.strict()) {
            return new Bound(byDtype, "--strict, " + dtypeBasis);
        }
        if (f.expectedRelativeError().isPresent()) {
            double p = f.expectedRelativeError().getAsDouble();
            return new Bound(PREDICTION_MARGIN * p + byDtype, String.format(Locale.ROOT,
                    "%s plan predicts %.3g: %s x prediction + %s", verdictName(f.verdict()), p,
                    "2", dtypeBasis));
        }
        return new Bound(Double.NaN, "the plan is " + verdictName(f.verdict()) + " and predicts no error to hold "
                + "the measurement to (--strict applies the " + dtypeBasis + ")");
    }

    static String verdictName(Fidelity.Verdict v) {
        return v.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }

    /** The check as a report line. */
    public static CheckResult asCheck(FunctionalResult r) {
        String planned = r.verdict() == null ? "" : "planned " + r.verdict()
                + (r.predictedError() == null || r.verdict().equals("exact") ? "" : String.format(Locale.ROOT, ", predicted error %.3g", r.predictedError()))
                + "; ";
        if (!r.bounded()) {
            return CheckResult.skip("functional", String.format(Locale.ROOT,
                    "not held to a bound: %smeasured logits error %.3g, worst layer or logits %.3g; %s", planned,
                    r.logitsError(), r.worstError(), r.toleranceBasis()));
        }
        String errors = String.format("logits error %.3g, tolerance %.3g (%s)", r.logitsError(), r.tolerance(),
                r.toleranceBasis());
        if (r.passed()) {
            return CheckResult.pass("functional", "matches " + r.against() + " on every layer; " + planned + errors);
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
                        + "; " + planned + errors, problems);
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
                Integer w = c.slidingWindow(layer);
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
