package dev.upcycle.model;

import static dev.upcycle.model.ConfigLimits.range;
import static dev.upcycle.model.ConfigLimits.require;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.io.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A validated {@code config.json} (docs/formats.md, "Config fields" and "Output families"): an invalid
 * one cannot be constructed. Read with {@link #read(Path, FamilyRegistry)} /
 * {@link #parse(JsonNode, FamilyRegistry, String)}, built in code with {@link #builder(Family)},
 * written with {@link ConfigWriter}. Validation failures are {@code UpcycleException(InvalidConfig)}
 * naming the field and value.
 *
 * @param family                the family ({@code model_type} / {@code architectures[0]})
 * @param architectures         {@code architectures}; the first is the family's
 * @param vocabSize             V
 * @param hiddenSize            d
 * @param intermediateSize      f, width of a dense MLP
 * @param numHiddenLayers       decoder layers
 * @param numAttentionHeads     h
 * @param numKeyValueHeads      kv (divides h)
 * @param headDim               hd, resolved ({@code d/h} when the file has none)
 * @param hiddenAct             MLP activation, normally {@code silu}
 * @param rmsNormEps            RMSNorm epsilon
 * @param maxPositionEmbeddings context length the model was trained for
 * @param tieWordEmbeddings     whether {@code lm_head} shares {@code embed_tokens} (then absent from the file)
 * @param attentionBias         q/k/v/o biases (Llama, Qwen3, Qwen3-MoE; Qwen2 q/k/v biases are fixed by the family)
 * @param mlpBias               MLP biases (Llama only)
 * @param slidingWindow         sliding attention window, or null
 * @param useSlidingWindow      Qwen families: whether the window is used
 * @param maxWindowLayers       Qwen families: layers using full attention before the window applies, or null
 * @param bosTokenId            or null
 * @param eosTokenIds           empty when none; one entry for a plain int
 * @param padTokenId            or null
 * @param initializerRange      std of the initialiser
 * @param attentionDropout      attention dropout probability
 * @param rope                  RoPE, normalised from either encoding
 * @param dtype                 the dtype hint: {@code float32}, {@code float16}, {@code bfloat16}, {@code auto} or null
 * @param moe                   MoE fields, null exactly for dense families
 * @param moa                   attention-expert fields, null exactly for families without them
 * @param source                the source object (for carrying unknown fields); ignored by equals
 */
public record ModelConfig(Family family, List<String> architectures, int vocabSize, int hiddenSize,
                          int intermediateSize, int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads,
                          int headDim, String hiddenAct, double rmsNormEps, int maxPositionEmbeddings,
                          boolean tieWordEmbeddings, boolean attentionBias, boolean mlpBias, Integer slidingWindow,
                          boolean useSlidingWindow, Integer maxWindowLayers, Integer bosTokenId,
                          List<Integer> eosTokenIds, Integer padTokenId, double initializerRange,
                          double attentionDropout, Rope rope, String dtype, MoeConfig moe, MoaConfig moa,
                          SourceJson source) {

    public static final String INTERMEDIATE_SIZE = "intermediate_size";
    /** The dtype hints we accept, normalised ({@code float} and {@code half} map onto these). */
    public static final Set<String> DTYPES = Set.of("float32", "float16", "bfloat16", "auto");
    /** Largest config file read (real ones are a few KiB). */
    public static final long MAX_CONFIG_BYTES = 16L << 20;

    public ModelConfig {
        Objects.requireNonNull(family, "family");
        require(architectures != null && !architectures.isEmpty()
                && family.architecture().equals(architectures.get(0)),
                "architectures must start with " + family.architecture() + ", found " + architectures);
        architectures = List.copyOf(architectures);
        range("vocab_size", vocabSize, 1, ConfigLimits.MAX_VOCAB);
        range("hidden_size", hiddenSize, 1, ConfigLimits.MAX_HIDDEN);
        range(INTERMEDIATE_SIZE, intermediateSize, 1, ConfigLimits.MAX_INTERMEDIATE);
        range("num_hidden_layers", numHiddenLayers, 1, ConfigLimits.MAX_LAYERS);
        range("num_attention_heads", numAttentionHeads, 1, ConfigLimits.MAX_HEADS);
        range("num_key_value_heads", numKeyValueHeads, 1, numAttentionHeads);
        require(numAttentionHeads % numKeyValueHeads == 0, "num_attention_heads = " + numAttentionHeads
                + " is not a multiple of num_key_value_heads = " + numKeyValueHeads);
        range("head_dim", headDim, 1, ConfigLimits.MAX_HEAD_DIM);
        require(hiddenAct != null && !hiddenAct.isBlank(), "hidden_act must be a non-empty string");
        require(Double.isFinite(rmsNormEps) && rmsNormEps > 0 && rmsNormEps < 1,
                "rms_norm_eps = " + rmsNormEps + " must be in (0, 1)");
        range("max_position_embeddings", maxPositionEmbeddings, 1, Integer.MAX_VALUE);
        if (slidingWindow != null) {
            range("sliding_window", slidingWindow, 1, Integer.MAX_VALUE);
        }
        if (maxWindowLayers != null) {
            range("max_window_layers", maxWindowLayers, 0, Integer.MAX_VALUE);
        }
        eosTokenIds = List.copyOf(eosTokenIds);
        for (int eos : eosTokenIds) {
            range("eos_token_id", eos, 0, vocabSize - 1L);
        }
        require(Double.isFinite(initializerRange) && initializerRange >= 0,
                "initializer_range = " + initializerRange + " must be >= 0");
        require(attentionDropout >= 0 && attentionDropout <= 1,
                "attention_dropout = " + attentionDropout + " must be in [0, 1]");
        Objects.requireNonNull(rope, "rope");
        require(dtype == null || DTYPES.contains(dtype), "dtype \"" + dtype + "\" is not one of " + DTYPES);
        source = source == null ? SourceJson.of(null) : source;
        // Fields a family does not have must keep their defaults, or writing would lose them.
        requireDefault(family, "attention_bias", attentionBias);
        requireDefault(family, "mlp_bias", mlpBias);
        requireDefault(family, "sliding_window", slidingWindow);
        requireDefault(family, "use_sliding_window", useSlidingWindow);
        requireDefault(family, "max_window_layers", maxWindowLayers);
        checkMoe(family, moe, numHiddenLayers, intermediateSize);
        require(family.moa() == (moa != null), family.moa()
                ? "family " + family.name() + " needs attention-expert fields"
                : "family " + family.name() + " has no attention experts");
        if (moa != null && moa.moaLayers() != null) {
            for (int layer : moa.moaLayers()) {
                range("moa_layers entry", layer, 0, numHiddenLayers - 1L);
            }
        }
    }

    private static void checkMoe(Family family, MoeConfig moe, int layers, int intermediateSize) {
        require(family.moe() == (moe != null), family.moe()
                ? "family " + family.name() + " needs MoE fields" : "family " + family.name() + " has no experts");
        if (moe == null) {
            return;
        }
        ConfigKeys keys = family.keys();
        require(moe.hasSharedExpert() == (keys.sharedExpertWidth() != null), moe.hasSharedExpert()
                ? "family " + family.name() + " has no shared expert"
                : keys.sharedExpertWidth() + " is required for family " + family.name());
        require(keys.hasOwnExpertWidth() || moe.expertWidth() == intermediateSize,
                "family " + family.name() + " experts are intermediate_size wide (" + intermediateSize
                        + "), not " + moe.expertWidth());
        require((long) layers * moe.numExperts() <= ConfigLimits.MAX_EXPERT_LAYERS,
                "num_hidden_layers x experts = " + (long) layers * moe.numExperts() + " exceeds "
                        + ConfigLimits.MAX_EXPERT_LAYERS);
        for (int layer : moe.mlpOnlyLayers()) {
            range("mlp_only_layers entry", layer, 0, layers - 1L);
        }
        requireDefault(family, keys.normTopkProb(), moe.normTopkProb());
        requireDefault(family, "decoder_sparse_step", moe.decoderSparseStep());
        require(family.declares("mlp_only_layers") || family.sparseLayers() == SparseLayerRule.LISTED
                        || moe.mlpOnlyLayers().isEmpty(),
                "family " + family.name() + " has no mlp_only_layers");
        requireDefault(family, "router_aux_loss_coef", moe.routerAuxLossCoef());
        requireDefault(family, "output_router_logits", moe.outputRouterLogits());
        requireDefault(family, "router_jitter_noise", moe.routerJitterNoise());
    }

    private static void requireDefault(Family family, String key, Object value) {
        if (family.declares(key)) {
            return;
        }
        JsonNode d = ConfigDefaults.of(family, key);
        boolean same = value == null ? d.isNull()
                : value instanceof Boolean b ? d.isBoolean() && d.booleanValue() == b
                : value instanceof Number n && d.isNumber() && Double.compare(d.doubleValue(), n.doubleValue()) == 0;
        require(same, "family " + family.name() + " has no " + key + " (must stay " + d + ", found " + value + ")");
    }

    // ---- reading -----------------------------------------------------------------------------

    /**
     * Reads and validates {@code config.json}.
     *
     * @throws dev.upcycle.error.UpcycleException InvalidConfig (missing, too large, not JSON,
     *         bad fields), UnsupportedArchitecture, ConfigConflict
     */
    public static ModelConfig read(Path configJson, FamilyRegistry families) {
        return ConfigParser.read(configJson, families);
    }

    /** Validates an already parsed {@code config.json}; {@code where} names it in errors. */
    public static ModelConfig parse(JsonNode config, FamilyRegistry families, String where) {
        return ConfigParser.parse(config, families, where);
    }

    // ---- derived values ----------------------------------------------------------------------

    public String modelType() {
        return family.modelType();
    }

    /** Whether {@code layer} carries routed experts (the family's rule; false for dense families). */
    public boolean isSparseLayer(int layer) {
        return family.sparseLayers().isSparse(moe, numHiddenLayers, layer);
    }

    /** Whether {@code layer}'s attention is split into attention experts (native family). */
    public boolean isMoaLayer(int layer) {
        return moa != null && layer < numHiddenLayers && moa.isMoaLayer(layer);
    }

    /**
     * Whether a tensor is used for every token: non-expert tensors always; routed FFN experts
     * {@code expert < k}; attention experts' q/o {@code expert < k_a}, their k/v always
     * (docs/attention-experts.md, "KV cache" and "Parameters, active parameters and FLOPs").
     */
    public boolean isActive(TensorRole role, int expert) {
        if (expert < 0) {
            return true;
        }
        if (role.isAttentionExpert()) {
            TensorRole dense = role.denseAttention();
            boolean kv = dense == TensorRole.ATTN_K || dense == TensorRole.ATTN_V || dense == TensorRole.ATTN_K_BIAS
                    || dense == TensorRole.ATTN_V_BIAS || dense == TensorRole.ATTN_K_NORM;
            return kv || expert < moa.activeExperts();
        }
        return moe != null && expert < moe.numExpertsPerTok();
    }

    /** The sparse layers, ascending. */
    public List<Integer> sparseLayers() {
        List<Integer> out = new ArrayList<>();
        for (int layer = 0; layer < numHiddenLayers; layer++) {
            if (isSparseLayer(layer)) {
                out.add(layer);
            }
        }
        return out;
    }

    /** Layers with attention experts, ascending (empty without a MoA config). */
    public List<Integer> moaLayers() {
        List<Integer> out = new ArrayList<>();
        for (int layer = 0; layer < numHiddenLayers; layer++) {
            if (isMoaLayer(layer)) {
                out.add(layer);
            }
        }
        return out;
    }

    /**
     * The sliding window of {@code layer}, or null for full attention: Mistral and Mixtral apply
     * {@code sliding_window} to every layer; the Qwen families only with {@code use_sliding_window},
     * and only from layer {@code max_window_layers} on (transformers {@code layer_types}).
     */
    public Integer slidingWindow(int layer) {
        return usesSlidingWindow() && layer >= firstWindowLayer() ? slidingWindow : null;
    }

    /** Whether the window applies at all (the Qwen families keep a window they do not use). */
    public boolean usesSlidingWindow() {
        return slidingWindow != null && (!windowHasSwitch() || useSlidingWindow);
    }

    /**
     * Whether the family writes the window Qwen's way: a {@code use_sliding_window} switch, and
     * {@code max_window_layers} full layers before the windowed ones.
     */
    public boolean windowHasSwitch() {
        return family.declares("use_sliding_window");
    }

    /**
     * The first layer a used window applies to; the layers before it attend fully. 0 outside the
     * Qwen families, whose {@code max_window_layers} counts those full layers.
     */
    public int firstWindowLayer() {
        return windowHasSwitch() && maxWindowLayers != null ? maxWindowLayers : 0;
    }

    /** Sequential or parallel attention and MLP; sequential for every family without attention experts. */
    public MoaConfig.BlockLayout blockLayout() {
        return moa == null ? MoaConfig.BlockLayout.SEQUENTIAL : moa.blockLayout();
    }

    /**
     * Whether the attention has q/k/v biases: as {@code attention_bias} says, or always in a family
     * whose biases come without that flag (Qwen2).
     */
    public boolean hasQkvBias() {
        return attentionBias || family.template(TensorRole.ATTN_Q_BIAS).map(t -> t.when().test(this, 0)).orElse(false);
    }

    /**
     * Whether the attention applies per-head q/k RMSNorms before RoPE: always in the Qwen3 families,
     * in the native family when its config says so ({@code attention_qk_norm}).
     */
    public boolean hasQkNorm() {
        return moa != null ? moa.qkNorm() : family.has(TensorRole.ATTN_Q_NORM);
    }

    /**
     * Norms per block: 2 ({@code input_layernorm}, {@code post_attention_layernorm}) unless a
     * parallel block has one.
     */
    public int normsPerBlock() {
        return moa == null || moa.twoNorms() ? 2 : 1;
    }

    /** The dtype hint as a tensor dtype; empty for {@code auto} or none. */
    public Optional<DType> dtypeHint() {
        if (dtype == null) {
            return Optional.empty();
        }
        return switch (dtype) {
            case "float32" -> Optional.of(DType.F32);
            case "float16" -> Optional.of(DType.F16);
            case "bfloat16" -> Optional.of(DType.BF16);
            default -> Optional.empty();
        };
    }

    /** A copy of the source {@code config.json} object (empty for configs built in code). */
    public ObjectNode raw() {
        return source.json();
    }

    /** The expected tensors of this config, in state-dict order (see {@link Family#expectedTensors}). */
    public List<ExpectedTensor> expectedTensors() {
        return family.expectedTensors(this);
    }

    // ---- building ----------------------------------------------------------------------------

    /** A builder for {@code family}, optional fields at their defaults, required sizes unset. */
    public static Builder builder(Family family) {
        return new Builder(family);
    }

    /** A builder holding every value of this config (switch family with {@link Builder#family}). */
    public Builder toBuilder() {
        Builder b = new Builder(family)
                .architectures(architectures).vocabSize(vocabSize).hiddenSize(hiddenSize)
                .intermediateSize(intermediateSize).numHiddenLayers(numHiddenLayers)
                .numAttentionHeads(numAttentionHeads).numKeyValueHeads(numKeyValueHeads).headDim(headDim)
                .hiddenAct(hiddenAct).rmsNormEps(rmsNormEps).maxPositionEmbeddings(maxPositionEmbeddings)
                .tieWordEmbeddings(tieWordEmbeddings).attentionBias(attentionBias).mlpBias(mlpBias)
                .slidingWindow(slidingWindow).useSlidingWindow(useSlidingWindow).maxWindowLayers(maxWindowLayers)
                .bosTokenId(bosTokenId).eosTokenIds(eosTokenIds).padTokenId(padTokenId)
                .initializerRange(initializerRange).attentionDropout(attentionDropout).rope(rope).dtype(dtype)
                .source(source).moa(moa);
        if (moe != null) {
            b.numExperts(moe.numExperts()).numExpertsPerTok(moe.numExpertsPerTok())
                    .expertWidth(moe.expertWidth()).sharedExpertWidth(moe.sharedExpertWidth())
                    .normTopkProb(moe.normTopkProb()).decoderSparseStep(moe.decoderSparseStep())
                    .mlpOnlyLayers(moe.mlpOnlyLayers()).routerAuxLossCoef(moe.routerAuxLossCoef())
                    .outputRouterLogits(moe.outputRouterLogits()).routerJitterNoise(moe.routerJitterNoise());
        }
        return b;
    }

    /**
     * The head width when {@code head_dim} is not given: {@code hidden_size / num_attention_heads},
     * which must divide.
     */
    static int derivedHeadDim(int hiddenSize, int heads) {
        require(heads > 0 && hiddenSize % heads == 0, "hidden_size = " + hiddenSize
                + " is not a multiple of num_attention_heads = " + heads + " and head_dim is not given");
        return hiddenSize / heads;
    }

    /**
     * Builds configs, in code (tests, {@code synth}, dense → MoE conversion) and from
     * {@code config.json} ({@link ConfigParser} sets what the file gives): {@link #build()} is the one
     * place where unset values take their defaults, those of the family current at that time.
     * {@code headDim} unset means the family's default or {@code hidden_size / num_attention_heads};
     * {@code rmsNormEps} unset means 1e-6 (a file must give it). Setting an MoE value on a dense
     * family is an error at build time.
     */
    public static final class Builder {
        private Family family;
        private List<String> architectures;
        private int vocabSize;
        private int hiddenSize;
        private int intermediateSize;
        private int numHiddenLayers;
        private int numAttentionHeads;
        private Integer numKeyValueHeads;
        private Integer headDim;
        private String hiddenAct;
        private Double rmsNormEps;
        private Integer maxPositionEmbeddings;
        private Boolean tieWordEmbeddings;
        private Boolean attentionBias;
        private Boolean mlpBias;
        private Boolean useSlidingWindow;
        // Null is a value for these (no window, no token); the Set flags tell it from unset.
        private Integer slidingWindow;
        private boolean slidingWindowSet;
        private Integer maxWindowLayers;
        private boolean maxWindowLayersSet;
        private Integer bosTokenId;
        private boolean bosSet;
        private Integer padTokenId;
        private boolean padSet;
        private List<Integer> eosTokenIds;
        private Double initializerRange;
        private Double attentionDropout;
        private Rope rope;
        private String dtype;
        private SourceJson source;
        private Integer numExperts;
        private Integer numExpertsPerTok;
        private Integer expertWidth;
        private Integer sharedExpertWidth;
        private boolean sharedExpertWidthSet;
        private Boolean normTopkProb;
        private Integer decoderSparseStep;
        private List<Integer> mlpOnlyLayers;
        private Double routerAuxLossCoef;
        private Boolean outputRouterLogits;
        private Double routerJitterNoise;
        private MoaConfig moa;

        private Builder(Family family) {
            this.family = Objects.requireNonNull(family);
        }

        /** Switches family; {@code architectures} follows unless set explicitly afterwards. */
        public Builder family(Family f) {
            this.family = Objects.requireNonNull(f);
            this.architectures = null;
            return this;
        }

        // One line per value; the record's components say what each means.
        public Builder architectures(List<String> v) { architectures = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder hiddenSize(int v) { hiddenSize = v; return this; }
        public Builder intermediateSize(int v) { intermediateSize = v; return this; }
        public Builder numHiddenLayers(int v) { numHiddenLayers = v; return this; }
        public Builder numAttentionHeads(int v) { numAttentionHeads = v; return this; }
        public Builder numKeyValueHeads(int v) { numKeyValueHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder hiddenAct(String v) { hiddenAct = v; return this; }
        public Builder rmsNormEps(double v) { rmsNormEps = v; return this; }
        public Builder maxPositionEmbeddings(int v) { maxPositionEmbeddings = v; return this; }
        public Builder tieWordEmbeddings(boolean v) { tieWordEmbeddings = v; return this; }
        public Builder attentionBias(boolean v) { attentionBias = v; return this; }
        public Builder mlpBias(boolean v) { mlpBias = v; return this; }
        /** Null means no window. */
        public Builder slidingWindow(Integer v) { slidingWindow = v; slidingWindowSet = true; return this; }
        public Builder useSlidingWindow(boolean v) { useSlidingWindow = v; return this; }
        public Builder maxWindowLayers(Integer v) { maxWindowLayers = v; maxWindowLayersSet = true; return this; }
        public Builder bosTokenId(Integer v) { bosTokenId = v; bosSet = true; return this; }
        public Builder eosTokenIds(List<Integer> v) { eosTokenIds = v; return this; }
        public Builder eosTokenId(int v) { return eosTokenIds(List.of(v)); }
        public Builder padTokenId(Integer v) { padTokenId = v; padSet = true; return this; }
        public Builder initializerRange(double v) { initializerRange = v; return this; }
        public Builder attentionDropout(double v) { attentionDropout = v; return this; }
        public Builder rope(Rope v) { rope = v; return this; }
        /** A dtype hint spelled as in config.json ({@code bfloat16}, ...), or null. */
        public Builder dtype(String v) { dtype = v; return this; }
        /** The dtype hint of a tensor dtype ({@code BF16} → {@code bfloat16}). */
        public Builder dtype(DType v) { return dtype(v == null ? null : v.torchName()); }
        /** The source object whose unknown fields {@link ConfigWriter} may carry over. */
        public Builder source(SourceJson v) { source = v; return this; }
        public Builder numExperts(int v) { numExperts = v; return this; }
        public Builder numExpertsPerTok(int v) { numExpertsPerTok = v; return this; }
        /** Width of one routed expert; for Mixtral it must equal {@code intermediate_size} (the default). */
        public Builder expertWidth(int v) { expertWidth = v; return this; }
        /** Null for none; only for families with a shared expert. */
        public Builder sharedExpertWidth(Integer v) { sharedExpertWidth = v; sharedExpertWidthSet = true; return this; }
        public Builder normTopkProb(boolean v) { normTopkProb = v; return this; }
        public Builder decoderSparseStep(int v) { decoderSparseStep = v; return this; }
        public Builder mlpOnlyLayers(List<Integer> v) { mlpOnlyLayers = v; return this; }
        public Builder routerAuxLossCoef(double v) { routerAuxLossCoef = v; return this; }
        public Builder outputRouterLogits(boolean v) { outputRouterLogits = v; return this; }
        public Builder routerJitterNoise(double v) { routerJitterNoise = v; return this; }
        /** Attention-expert fields (native family only). */
        public Builder moa(MoaConfig v) { moa = v; return this; }

        /** Validates and builds; InvalidConfig on any violation. */
        public ModelConfig build() {
            Family f = family;
            int heads = numAttentionHeads;
            int hd = headDim != null ? headDim : f.defaultValue("head_dim").isPresent()
                    ? ConfigDefaults.intValue(f, "head_dim") : derivedHeadDim(hiddenSize, heads);
            return new ModelConfig(f, architectures == null ? List.of(f.architecture()) : architectures,
                    vocabSize, hiddenSize, intermediateSize, numHiddenLayers, heads,
                    numKeyValueHeads == null ? heads : numKeyValueHeads, hd,
                    hiddenAct == null ? ConfigDefaults.text(f, "hidden_act") : hiddenAct,
                    rmsNormEps == null ? 1e-6 : rmsNormEps,
                    maxPositionEmbeddings == null ? ConfigDefaults.intValue(f, "max_position_embeddings")
                            : maxPositionEmbeddings,
                    orDefault(tieWordEmbeddings, f, "tie_word_embeddings"),
                    orDefault(attentionBias, f, "attention_bias"),
                    orDefault(mlpBias, f, "mlp_bias"),
                    slidingWindowSet ? slidingWindow : ConfigDefaults.intOrNull(f, "sliding_window"),
                    orDefault(useSlidingWindow, f, "use_sliding_window"),
                    maxWindowLayersSet ? maxWindowLayers : ConfigDefaults.intOrNull(f, "max_window_layers"),
                    bosSet ? bosTokenId : ConfigDefaults.intOrNull(f, "bos_token_id"),
                    eosTokenIds != null ? eosTokenIds : defaultEos(f),
                    padSet ? padTokenId : ConfigDefaults.intOrNull(f, "pad_token_id"),
                    initializerRange == null ? ConfigDefaults.doubleValue(f, "initializer_range") : initializerRange,
                    attentionDropout == null ? ConfigDefaults.doubleValue(f, "attention_dropout") : attentionDropout,
                    rope == null ? Rope.plain(ConfigDefaults.doubleValue(f, "rope_theta")) : rope,
                    dtype, f.moe() ? buildMoe(f) : noMoe(), f.moa() ? moaOrDefault(f) : null, source);
        }

        /** Unset: separate, soft routing, the family's default expert count, every layer sequential. */
        private MoaConfig moaOrDefault(Family f) {
            return moa != null ? moa : MoaConfig.of(MoaConfig.Variant.SEPARATE,
                    ConfigDefaults.intValue(f, f.keys().numAttentionExperts()));
        }

        private MoeConfig noMoe() {
            require(numExperts == null && numExpertsPerTok == null && expertWidth == null
                    && sharedExpertWidth == null && mlpOnlyLayers == null && decoderSparseStep == null,
                    "family " + family.name() + " has no experts");
            return null;
        }

        private MoeConfig buildMoe(Family f) {
            ConfigKeys keys = f.keys();
            Integer shared = sharedExpertWidthSet ? sharedExpertWidth
                    : keys.sharedExpertWidth() == null ? null : ConfigDefaults.intOrNull(f, keys.sharedExpertWidth());
            return new MoeConfig(
                    numExperts == null ? ConfigDefaults.intValue(f, keys.numExperts()) : numExperts,
                    numExpertsPerTok == null ? ConfigDefaults.intValue(f, "num_experts_per_tok") : numExpertsPerTok,
                    expertWidth != null ? expertWidth
                            : keys.hasOwnExpertWidth() ? ConfigDefaults.intValue(f, keys.expertWidth())
                            : intermediateSize,
                    shared,
                    orDefault(normTopkProb, f, keys.normTopkProb()),
                    decoderSparseStep == null ? ConfigDefaults.intValue(f, "decoder_sparse_step") : decoderSparseStep,
                    mlpOnlyLayers == null ? List.of() : mlpOnlyLayers,
                    routerAuxLossCoef == null ? ConfigDefaults.doubleValue(f, "router_aux_loss_coef")
                            : routerAuxLossCoef,
                    orDefault(outputRouterLogits, f, "output_router_logits"),
                    routerJitterNoise == null ? ConfigDefaults.doubleValue(f, "router_jitter_noise")
                            : routerJitterNoise);
        }

        private static boolean orDefault(Boolean v, Family f, String key) {
            return v != null ? v : ConfigDefaults.boolValue(f, key);
        }

        private static List<Integer> defaultEos(Family f) {
            Integer eos = ConfigDefaults.intOrNull(f, "eos_token_id");
            return eos == null ? List.of() : List.of(eos);
        }
    }
}
