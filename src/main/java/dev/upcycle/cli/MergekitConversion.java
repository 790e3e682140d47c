package dev.upcycle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.data.TextCodec;
import dev.upcycle.data.TokenizerChoice;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.LayerSelection;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.ExpertSources;
import dev.upcycle.plan.GateRows;
import dev.upcycle.plan.MergekitArchitecture;
import dev.upcycle.plan.Planner;
import dev.upcycle.plan.UpcycleRequest;
import dev.upcycle.recipe.MergekitConfig;
import dev.upcycle.runtime.PromptGates;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code convert --config FILE}: a mergekit-moe configuration (docs/mergekit.md) turned into the
 * inputs and the request of a conversion. Model references are resolved, the output architecture
 * chosen as mergekit chooses it, and the router rows drawn or computed from the prompts through
 * {@link GateComputer}.
 */
final class MergekitConversion {
    /** Router rows from prompts: {@link PromptGates#compute} unless a test gives another. */
    @FunctionalInterface
    interface GateComputer {
        float[][] compute(Path baseModelDir, FamilyRegistry families, PromptGates.Mode mode,
                          List<PromptGates.GatePrompts> gates);
    }

    /**
     * The command line's values for what the file may leave open; null where not given.
     *
     * @param seed             --seed
     * @param dtype            --dtype (f32, bf16, f16, keep)
     * @param maxShardSize     --max-shard-size
     * @param routing          --routing
     * @param allowApproximate --allow-approximate
     */
    record Overrides(Long seed, String dtype, String maxShardSize, String routing, boolean allowApproximate) {
    }

    /**
     * A conversion ready to run.
     *
     * @param inputs   the distinct models read, the base model first
     * @param request  the request, with the experts' sources and the router rows
     * @param recorded what upcycle.json records of the file under {@code options.mergekit}
     */
    record Prepared(List<Path> inputs, UpcycleRequest request, ObjectNode recorded) {
    }

    private MergekitConversion() {
    }

    static Prepared prepare(MergekitConfig cfg, FamilyRegistry families, GateComputer computer, Overrides o) {
        Map<Path, Integer> inputIndex = new LinkedHashMap<>();
        List<String> references = new ArrayList<>();
        Path base = resolve(cfg, cfg.baseModel());
        inputIndex.put(key(base), 0);
        List<Path> inputs = new ArrayList<>(List.of(base));
        references.add(cfg.baseModel());
        List<ExpertSources.Member> members = new ArrayList<>();
        List<String> modelTypes = new ArrayList<>();
        ModelConfig baseConfig = config(base, families);
        List<ModelConfig> configs = new ArrayList<>(List.of(baseConfig));
        modelTypes.add(baseConfig.modelType());
        for (MergekitConfig.Expert e : cfg.gates()) {
            Path dir = resolve(cfg, e.sourceModel());
            Integer index = inputIndex.get(key(dir));
            if (index == null) {
                index = inputs.size();
                inputIndex.put(key(dir), index);
                inputs.add(dir);
                references.add(e.sourceModel());
                configs.add(config(dir, families));
                modelTypes.add(configs.get(index).modelType());
            } else {
                modelTypes.add(modelTypes.get(index));
            }
            members.add(new ExpertSources.Member(index, e.residualScale() == null ? 1.0 : e.residualScale(),
                    e.noiseScale() == null ? 0.0 : e.noiseScale(), e.positivePrompts().size(),
                    e.negativePrompts().size()));
        }
        List<MergekitConfig.Expert> shared = cfg.sharedExperts();
        String target = MergekitArchitecture.select(new MergekitArchitecture.Inputs(cfg.architecture(), shared.size(),
                !shared.isEmpty() && !shared.get(0).positivePrompts().isEmpty(),
                !shared.isEmpty() && !shared.get(0).negativePrompts().isEmpty(),
                cfg.gateMode() == MergekitConfig.GateMode.RANDOM, modelTypes));
        Planner.requireSameArchitecture(configs);
        int routed = cfg.experts().size();
        MergekitConfig.Additions add = cfg.additions();
        long seed = add.seed() != null ? add.seed() : o.seed() != null ? o.seed() : 0L;
        String routing = add.routing() != null ? add.routing() : o.routing() != null ? o.routing() : "topk-softmax";
        ScalingMode scaling = add.scaling() == null ? ScalingMode.NONE : upcycleOnly(cfg, "scaling",
                ScalingMode.parse(add.scaling()), ScalingMode.NONE, members, references);
        int granularity = add.granularity() == null ? 1 : upcycleOnly(cfg, "granularity", add.granularity(), 1,
                members, references);
        if (routed % granularity != 0) {
            throw keyError(cfg, "granularity", "granularity " + granularity + " slices the base model's MLP into "
                    + granularity + " experts, so the " + routed + " experts listed must be a multiple of it");
        }
        UpcycleSpec spec = UpcycleSpec.builder().experts(routed).topK(cfg.expertsPerToken()).granularity(granularity)
                .routing(RoutingMode.parse(routing)).scaling(scaling).routerInit(RouterInit.RANDOM)
                .seed(seed).sharedExperts(shared.isEmpty() ? 0 : 1).sharedExpertMode(SharedExpertMode.FULL_COPY)
                .build();
        MoaSpec moa = attention(cfg, spec, inputs.size());
        if (moa != null) {
            // the native format is the only one that holds attention experts
            target = "native";
        }
        GateRows gates = gates(cfg, base, baseConfig, families, computer, seed);
        ExpertSources sources = new ExpertSources(members.subList(0, routed), shared.isEmpty() ? null
                : members.get(routed), gates);
        String dtypeText = cfg.dtype() != null ? cfg.dtype() : o.dtype() != null ? o.dtype() : "keep";
        DType dtype = dtypeText.equalsIgnoreCase("keep") ? null : Options.writableDtype(dtypeText, "--dtype");
        String size = add.maxShardSize() != null ? add.maxShardSize() : o.maxShardSize() != null ? o.maxShardSize()
                : "5GB";
        UpcycleRequest request = new UpcycleRequest(spec, target, LayerSelection.ALL, dtype, Options.size(size),
                o.allowApproximate(), UpcycleRequest.DEFAULT_AUX_LOSS, moa, BlockSpec.SEED, 0.0, sources);
        return new Prepared(List.copyOf(inputs), request, recorded(cfg, references, sources));
    }

    /**
     * convert's --scaling and --granularity rescale and slice copies of one dense MLP: they mean the
     * same here only when every expert, the shared one included, is the base model's MLP (an upcycle).
     */
    private static <T> T upcycleOnly(MergekitConfig cfg, String key, T value, T none,
                                     List<ExpertSources.Member> members, List<String> references) {
        if (value.equals(none)) {
            return value;
        }
        for (int i = 0; i < members.size(); i++) {
            if (members.get(i).input() != 0) {
                String who = i < cfg.experts().size() ? "experts[" + i + "]" : "shared_experts[0]";
                throw keyError(cfg, key, "applies when every expert is the base model's MLP (an upcycle), and "
                        + who + " comes from " + references.get(members.get(i).input()) + "; experts from "
                        + "different models are whole MLPs, with no dense MLP to " + (key.equals("scaling")
                        ? "rescale" : "slice"));
            }
        }
        if (!cfg.sharedExperts().isEmpty()) {
            throw keyError(cfg, key, "does not apply with shared_experts: mergekit's shared expert is a whole MLP "
                    + "added to the routed experts' output, not a part of the " + (key.equals("scaling")
                    ? "rescaled" : "sliced") + " dense MLP");
        }
        return value;
    }

    /** The attention experts asked for under {@code upcycle:}, or null: one per routed expert. */
    private static MoaSpec attention(MergekitConfig cfg, UpcycleSpec spec, int inputs) {
        MergekitConfig.Additions add = cfg.additions();
        if (add.attention() == null) {
            return null;
        }
        if (!cfg.sharedExperts().isEmpty()) {
            throw keyError(cfg, "attention", "attention experts are written in this tool's native format only, "
                    + "which has no shared expert; remove shared_experts or attention");
        }
        if (cfg.architecture() != null) {
            throw keyError(cfg, "attention", "attention experts are written in this tool's native format only, "
                    + "and architecture " + cfg.architecture() + " asks for another; remove architecture");
        }
        int experts = spec.experts();
        if (add.attentionTopK() != null && add.attentionTopK() > experts) {
            throw keyError(cfg, "attention_top_k", add.attentionTopK() + " is more than the " + experts
                    + " attention experts (one per expert)");
        }
        Integer kvSeed = add.sharedKvInit() == null ? null : MoaSpec.parseSharedKvInit(add.sharedKvInit());
        if (kvSeed != null && kvSeed >= inputs) {
            throw keyError(cfg, "shared_kv_init", add.sharedKvInit() + " names no model: the file names " + inputs
                    + " (seed:0 is the base model, then each further model in the order the file first names it)");
        }
        return new MoaSpec(MoaSpec.parseMode(add.attention()), experts, add.attentionTopK(),
                RouterInit.parse(add.attentionRouterInit() == null ? "random" : add.attentionRouterInit()),
                spec.routerStd(), kvSeed);
    }

    private static UpcycleException keyError(MergekitConfig cfg, String key, String why) {
        return new UpcycleException(ErrorKind.InvalidRecipe, cfg.file() + " key 'upcycle." + key + "'", why);
    }

    /**
     * A reference as written: an absolute path, a path relative to the file's directory when one
     * exists there, else a path relative to the working directory or a model id in the Hugging
     * Face cache, as convert's own inputs.
     */
    static Path resolve(MergekitConfig cfg, String reference) {
        Path given = Path.of(reference);
        Path dir = cfg.file().toAbsolutePath().getParent();
        if (!given.isAbsolute() && dir != null && Files.exists(dir.resolve(given), LinkOption.NOFOLLOW_LINKS)) {
            return dir.resolve(given).normalize();
        }
        return ModelArgs.dir(given);
    }

    private static Path key(Path p) {
        return p.toAbsolutePath().normalize();
    }

    private static ModelConfig config(Path dir, FamilyRegistry families) {
        Path file = dir.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new UpcycleException(ErrorKind.NoCheckpoint, dir.toString(),
                    "no config.json; a mergekit-moe model reference is a model directory or a cached model id");
        }
        return ModelConfig.read(file, families);
    }

    private static GateRows gates(MergekitConfig cfg, Path base, ModelConfig baseConfig, FamilyRegistry families,
                                  GateComputer computer, long seed) {
        return switch (cfg.gateMode()) {
            case RANDOM -> GateRows.random(seed);
            case UNIFORM_RANDOM -> GateRows.uniformRandom(seed);
            case HIDDEN_LAST, HIDDEN_AVG, CHEAP_EMBED -> {
                PromptGates.Mode mode = switch (cfg.gateMode()) {
                    case HIDDEN_AVG -> PromptGates.Mode.HIDDEN_AVG;
                    case CHEAP_EMBED -> PromptGates.Mode.CHEAP_EMBED;
                    default -> PromptGates.Mode.HIDDEN_LAST;
                };
                List<PromptGates.GatePrompts> prompts = prompts(cfg, base, baseConfig);
                float[][] rows = computer.compute(base, families, mode, prompts);
                int width = prompts.size() * baseConfig.hiddenSize();
                if (rows.length != baseConfig.numHiddenLayers()
                        || java.util.Arrays.stream(rows).anyMatch(r -> r.length != width)) {
                    throw new IllegalStateException("gate rows: " + rows.length + " layers, expected "
                            + baseConfig.numHiddenLayers() + " of " + width + " values");
                }
                yield GateRows.given("mergekit " + cfg.gateMode().key() + " gates", rows);
            }
        };
    }

    /**
     * Every gate's prompts, tokenized by the base model's tokenizer (one token per byte for a
     * byte-level model), each after the tokenizer's beginning-of-sequence token as mergekit
     * prepends it. A shared expert without prompts gets no row from them (random gates only).
     */
    private static List<PromptGates.GatePrompts> prompts(MergekitConfig cfg, Path base, ModelConfig baseConfig) {
        List<PromptGates.GatePrompts> out = new ArrayList<>();
        if (ModelFiles.of(base).optional("tokenizer.json").isEmpty() && baseConfig.vocabSize() != 256) {
            throw new UpcycleException(ErrorKind.InvalidTokenizer, base.toString(), "gate_mode " + cfg.gateMode().key()
                    + " tokenizes the prompts with the base model's tokenizer.json, which it lacks (its vocabulary of "
                    + baseConfig.vocabSize() + " is not 256 bytes)", "add the model's tokenizer.json, or use "
                    + "gate_mode: random");
        }
        try (TextCodec codec = TokenizerChoice.resolve(null, false, base, baseConfig.vocabSize()).codec()) {
            String bos = codec.description().equals("bytes") ? "" : bosToken(base);
            for (MergekitConfig.Expert e : cfg.gates()) {
                if (e.positivePrompts().isEmpty()) {
                    continue;
                }
                out.add(new PromptGates.GatePrompts(e.positivePrompts().stream().map(p -> codec.encode(bos + p)).toList(),
                        e.negativePrompts().stream().map(p -> codec.encode(bos + p)).toList()));
            }
        }
        return out;
    }

    /** The {@code bos_token} of the model's tokenizer_config.json, or "" when it has none. */
    private static String bosToken(Path base) {
        var file = ModelFiles.of(base).optional("tokenizer_config.json");
        if (file.isEmpty()) {
            return "";
        }
        JsonNode bos;
        try {
            bos = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(file.get(),
                    StandardCharsets.UTF_8)).get("bos_token");
        } catch (java.io.IOException | RuntimeException e) {
            throw new UpcycleException(ErrorKind.InvalidTokenizer, file.get().toString(), "not readable JSON: "
                    + e.getMessage());
        }
        if (bos == null || bos.isNull()) {
            return "";
        }
        return bos.isTextual() ? bos.asText() : bos.path("content").asText("");
    }

    /** upcycle.json's record of the file: its text and SHA-256, the resolved references, the experts' sources. */
    private static ObjectNode recorded(MergekitConfig cfg, List<String> references, ExpertSources sources) {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("file", cfg.file().getFileName().toString());
        m.put("sha256", sha256(cfg.text()));
        m.put("text", cfg.text());
        m.put("gate_mode", cfg.gateMode().key());
        ArrayNode inputs = m.putArray("inputs");
        references.forEach(inputs::add);
        ArrayNode experts = m.putArray("experts");
        sources.experts().forEach(e -> experts.add(member(e)));
        if (sources.shared() != null) {
            m.set("shared_expert", member(sources.shared()));
        }
        return m;
    }

    private static ObjectNode member(ExpertSources.Member e) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("input", e.input());
        n.put("residual_scale", e.residualScale());
        n.put("noise_scale", e.noiseStd());
        n.put("positive_prompts", e.positivePrompts());
        n.put("negative_prompts", e.negativePrompts());
        return n;
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
