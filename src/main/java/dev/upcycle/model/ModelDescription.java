package dev.upcycle.model;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorHeader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A checkpoint as family + config + the tensor headers found, and how the three agree
 * (docs/formats.md: "Source families", "Config fields" and "Rejected inputs"). Pure: it sees headers only; the one check
 * that needs data (tied {@code lm_head} bytes) is left to the caller through
 * {@link #tiedHeadNeedsByteCheck()}.
 */
public final class ModelDescription {

    private static final String INV_FREQ = ".rotary_emb.inv_freq";

    private final Family family;
    private final ModelConfig config;
    private final Map<String, TensorHeader> found;
    private final List<ExpectedTensor> expected;
    private final Map<String, ExpectedTensor> expectedByName;

    private ModelDescription(Family family, ModelConfig config, Map<String, TensorHeader> found) {
        this.family = family;
        this.config = config;
        this.found = Collections.unmodifiableMap(new TreeMap<>(found));
        this.expected = family.expectedTensors(config);
        Map<String, ExpectedTensor> byName = new LinkedHashMap<>();
        expected.forEach(e -> byName.put(e.name(), e));
        this.expectedByName = Collections.unmodifiableMap(byName);
    }

    /**
     * @param found tensor headers by name, from every shard
     * @throws IllegalArgumentException when {@code config} belongs to another family
     */
    public static ModelDescription of(Family family, ModelConfig config, Map<String, TensorHeader> found) {
        if (!config.family().equals(family)) {
            throw new IllegalArgumentException("config is for family " + config.family() + ", not " + family);
        }
        return new ModelDescription(family, config, found);
    }

    public Family family() {
        return family;
    }

    public ModelConfig config() {
        return config;
    }

    /** The tensors found, by name (sorted). */
    public Map<String, TensorHeader> tensors() {
        return found;
    }

    /** What family and config promise, in state-dict order. */
    public List<ExpectedTensor> expected() {
        return expected;
    }

    /**
     * Every disagreement, errors and warnings: first the expected tensors in state-dict order
     * (missing, misshapen, not floating point), then unexpected names in sorted order, then
     * checkpoint-wide warnings.
     */
    public List<Finding> check() {
        List<Finding> out = new ArrayList<>();
        for (ExpectedTensor e : expected) {
            checkExpected(e, out);
        }
        for (TensorHeader h : found.values()) {
            if (!expectedByName.containsKey(h.name())) {
                out.add(classifyUnexpected(h));
            }
        }
        mixedDtypes().ifPresent(out::add);
        declaredDtype().ifPresent(out::add);
        return List.copyOf(out);
    }

    /**
     * Throws the first error of {@link #check()}, naming its tensor and how many further
     * errors there are; returns quietly when there are only warnings.
     */
    public void throwIfInvalid() {
        List<Finding> errors = check().stream().filter(Finding::isError).toList();
        if (errors.isEmpty()) {
            return;
        }
        Finding first = errors.get(0);
        int more = errors.size() - 1;
        String suffix = more == 0 ? "" : " (and " + more + " further problem" + (more == 1 ? "" : "s") + ")";
        throw new UpcycleException(first.kind(), where(first), first.message() + suffix);
    }

    /**
     * True when {@code tie_word_embeddings} is set and {@code lm_head.weight} is nevertheless
     * present with the embedding's shape: tied embeddings require the two to be byte-identical (docs/formats.md, "Config fields")
     * (else ConfigConflict), which only a caller that reads data can check.
     */
    public boolean tiedHeadNeedsByteCheck() {
        if (!config.tieWordEmbeddings() || !family.has(TensorRole.LM_HEAD) || !family.has(TensorRole.EMBED)) {
            return false;
        }
        TensorHeader head = found.get(family.tensorName(TensorRole.LM_HEAD));
        TensorHeader embed = found.get(family.tensorName(TensorRole.EMBED));
        return head != null && embed != null && head.shape().equals(embed.shape());
    }

    /** Parameters the config describes (tied embeddings counted once). */
    public long totalParameters() {
        long n = 0;
        for (ExpectedTensor e : expected) {
            n = Math.addExact(n, e.shape().elements());
        }
        return n;
    }

    /**
     * Parameters used per token: everything except routed experts, plus {@code k} routed
     * experts per sparse layer (experts of a layer are the same size, so which k does not
     * matter). Routers and shared experts count; embeddings count, as in the usual
     * "active parameters" figures (Mixtral 8x7B: 12.9B).
     */
    public long activeParameters() {
        long n = 0;
        for (ExpectedTensor e : expected) {
            if (config.isActive(e.role(), e.expert())) {
                n = Math.addExact(n, e.shape().elements());
            }
        }
        return n;
    }

    /** Elements per dtype over all tensors found, in {@link DType} order. */
    public Map<DType, Long> dtypes() {
        Map<DType, Long> out = new EnumMap<>(DType.class);
        for (TensorHeader h : found.values()) {
            out.merge(h.dtype(), h.elements(), Math::addExact);
        }
        return Collections.unmodifiableMap(out);
    }

    // ---- checks ----------------------------------------------------------------------------------

    private void checkExpected(ExpectedTensor e, List<Finding> out) {
        TensorHeader h = found.get(e.name());
        if (h == null) {
            TensorTemplate t = family.template(e.role()).orElseThrow();
            if (e.role().isBias() && t.when().dependsOnFlag()) {
                out.add(error(ErrorKind.ConfigConflict, e.name(), "config sets " + t.when()
                        + " = true but the bias is missing"));
            } else if (e.role() == TensorRole.LM_HEAD) {
                out.add(error(ErrorKind.MissingTensor, e.name(),
                        "missing while tie_word_embeddings is false (expected shape " + e.shape() + ")"));
            } else {
                out.add(error(ErrorKind.MissingTensor, e.name(), "missing (expected shape " + e.shape() + ")"));
            }
            return;
        }
        if (!h.shape().equals(e.shape())) {
            out.add(error(ErrorKind.ShapeMismatch, e.name(), "expected shape " + e.shape() + ", found " + h.shape()));
        }
        if (!h.dtype().isFloat()) {
            out.add(error(ErrorKind.UnsupportedDtype, e.name(),
                    "weights must be F64, F32, BF16 or F16, found " + h.dtype() + " (quantized checkpoint?)"));
        }
    }

    private Finding classifyUnexpected(TensorHeader h) {
        String name = h.name();
        if (name.endsWith(INV_FREQ)) {
            return warning(ErrorKind.UnexpectedTensor, name,
                    "ignored: RoPE frequencies are recomputed from rope_theta (old checkpoints stored them)");
        }
        Optional<TensorId> ref = family.roleOf(name);
        if (ref.isEmpty()) {
            return unknownName(h);
        }
        TensorId r = ref.get();
        if (r.layer() >= config.numHiddenLayers()) {
            return error(ErrorKind.UnexpectedTensor, name, "layer " + r.layer() + " does not exist: num_hidden_layers = "
                    + config.numHiddenLayers());
        }
        if (r.expert() >= 0 && r.expert() >= numExperts()) {
            return error(ErrorKind.UnexpectedTensor, name, "expert " + r.expert() + " does not exist: the config has "
                    + numExperts() + " experts");
        }
        if (r.role() == TensorRole.LM_HEAD && config.tieWordEmbeddings()) {
            return tiedHead(h);
        }
        TensorTemplate t = family.template(r.role()).orElseThrow();
        if (r.role().isBias()) {
            return error(ErrorKind.ConfigConflict, name, "bias present but config sets " + t.when() + " = false");
        }
        return error(ErrorKind.UnexpectedTensor, name, r.role() + " is not expected here (condition "
                + t.when() + " does not hold" + (r.layer() >= 0 ? " for layer " + r.layer() : "") + ")");
    }

    /** A name no template matches; a stray bias next to a known weight is still a bias conflict. */
    private Finding unknownName(TensorHeader h) {
        String name = h.name();
        if (name.endsWith(".bias")) {
            String weight = name.substring(0, name.length() - ".bias".length()) + ".weight";
            if (expectedByName.containsKey(weight)) {
                return error(ErrorKind.ConfigConflict, name, "bias present but family " + family.name()
                        + " has no bias on " + weight);
            }
        }
        return error(ErrorKind.UnexpectedTensor, name, "not a tensor of family " + family.name());
    }

    private Finding tiedHead(TensorHeader head) {
        TensorHeader embed = found.get(family.tensorName(TensorRole.EMBED));
        if (embed != null && embed.shape().equals(head.shape())) {
            return warning(ErrorKind.ConfigConflict, head.name(), "tie_word_embeddings is true but the tensor is "
                    + "present; it must be byte-identical to " + embed.name());
        }
        return error(ErrorKind.ConfigConflict, head.name(), "tie_word_embeddings is true but the tensor is present "
                + "with shape " + head.shape() + ", unlike the embedding " + (embed == null ? "(missing)" : embed.shape()));
    }

    /** A warning, not a rejection (docs/formats.md, "Rejected inputs"); conversion is the caller's choice. */
    private Optional<Finding> mixedDtypes() {
        Map<DType, Integer> counts = new EnumMap<>(DType.class);
        for (ExpectedTensor e : expected) {
            TensorHeader h = found.get(e.name());
            if (h != null && h.dtype().isFloat()) {
                counts.merge(h.dtype(), 1, Integer::sum);
            }
        }
        if (counts.size() <= 1) {
            return Optional.empty();
        }
        DType majority = Collections.max(counts.entrySet(), Map.Entry.comparingByValue()).getKey();
        String firstOther = expected.stream()
                .map(e -> found.get(e.name()))
                .filter(h -> h != null && h.dtype().isFloat() && h.dtype() != majority)
                .map(TensorHeader::name)
                .findFirst().orElse("");
        return Optional.of(warning(ErrorKind.UnsupportedDtype, firstOther,
                "mixed floating dtypes across weights (tensors per dtype: " + counts + ")"));
    }

    /**
     * {@code torch_dtype} (or {@code dtype}) naming another dtype than the weights have: common in
     * published checkpoints and harmless to loaders, which cast to the config's dtype (transformers
     * with {@code torch_dtype="auto"}), so a warning that says which one a loader will use.
     */
    private Optional<Finding> declaredDtype() {
        String declared = config.dtype();
        if (declared == null || declared.equals("auto")) {
            return Optional.empty();
        }
        Map<DType, Integer> counts = new EnumMap<>(DType.class);
        for (ExpectedTensor e : expected) {
            TensorHeader h = found.get(e.name());
            if (h != null && h.dtype().isFloat()) {
                counts.merge(h.dtype(), 1, Integer::sum);
            }
        }
        if (counts.isEmpty()) {
            return Optional.empty();
        }
        DType weights = Collections.max(counts.entrySet(), Map.Entry.comparingByValue()).getKey();
        if (weights.torchName().equals(declared)) {
            return Optional.empty();
        }
        return Optional.of(warning(ErrorKind.ConfigConflict, "", "config.json declares dtype " + declared
                + " but the weights are " + weights + " (" + weights.torchName() + "); a loader that follows the "
                + "config casts them to " + declared));
    }

    private int numExperts() {
        return config.moe() == null ? 0 : config.moe().numExperts();
    }

    private static String where(Finding f) {
        return f.tensor().isEmpty() ? "checkpoint" : "tensor " + f.tensor();
    }

    private static Finding error(ErrorKind kind, String tensor, String message) {
        return new Finding(Severity.ERROR, kind, tensor, message);
    }

    private static Finding warning(ErrorKind kind, String tensor, String message) {
        return new Finding(Severity.WARNING, kind, tensor, message);
    }
}
