package dev.upcycle.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.model.MoaConfig;
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
import dev.upcycle.plan.UpcycleRequest;
import java.util.Locale;

/**
 * The {@link UpcycleRequest} that {@code convert} recorded under {@code options} in
 * {@code upcycle.json} (the option names of the command line, resolved: a merge's expert count and
 * router are written as used). The shard size is left at its default: the weight check finds
 * tensors by name, whatever file holds them.
 */
final class RecordedRequest {
    private RecordedRequest() {
    }

    /** @throws UpcycleException InvalidConfig naming the option when a value is missing or wrong */
    static UpcycleRequest of(JsonNode o, String where) {
        if (o == null || !o.isObject()) {
            throw bad(where, "options", "missing");
        }
        try {
            UpcycleSpec spec = UpcycleSpec.builder()
                    .experts(integer(o, "experts", where)).topK(integer(o, "top-k", where))
                    .granularity(integer(o, "granularity", where))
                    .routing(RoutingMode.parse(text(o, "routing", where)))
                    .scaling(ScalingMode.parse(text(o, "scaling", where)))
                    .routerInit(RouterInit.parse(text(o, "router-init", where)))
                    .routerStd(number(o, "router-std", where)).seed(o.path("seed").asLong(0))
                    .sharedExperts(o.path("shared-experts").asInt(0))
                    .sharedExpertMode(SharedExpertMode.parse(o.path("shared-expert-mode").asText("split")))
                    .sharedExpertSize(o.path("shared-expert-size").asInt(0))
                    .build();
            String attention = o.path("attention").asText("keep");
            MoaConfig.Variant variant = MoaSpec.parseMode(attention);
            MoaSpec moa = null;
            if (variant != null) {
                int m = integer(o, "attention-experts", where);
                int k = o.path("attention-top-k").asInt(m);
                moa = new MoaSpec(variant, m, k == m ? null : k,
                        RouterInit.parse(o.path("attention-router-init").asText("random")), spec.routerStd(),
                        MoaSpec.parseSharedKvInit(o.path("shared-kv-init").asText("mean")));
            }
            String dtype = o.path("dtype").asText("keep");
            DType type = dtype.equalsIgnoreCase("keep") ? null : DType.valueOf(dtype.toUpperCase(Locale.ROOT));
            BlockSpec block = new BlockSpec(BlockSpec.parseLayout(o.path("block-layout").asText("seed")),
                    o.hasNonNull("parallel-norms") ? o.get("parallel-norms").asInt() : null,
                    o.path("force-parallel").asBoolean(false));
            return new UpcycleRequest(spec, o.path("target").asText("auto"),
                    LayerSelection.parse(o.path("layers").asText("all")), type, UpcycleRequest.DEFAULT_SHARD_SIZE,
                    o.path("allow-approximate").asBoolean(false),
                    o.path("router-aux-loss-coef").asDouble(UpcycleRequest.DEFAULT_AUX_LOSS), moa, block,
                    o.path("expert-noise-std").asDouble(0), sources(o.get("mergekit"), spec.seed(), where));
        } catch (UpcycleException e) {
            // An option value the command line would refuse (exit 2) is a malformed file here.
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "options: " + e.where() + ": " + e.why());
        } catch (IllegalArgumentException e) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "options: " + e.getMessage());
        }
    }

    /**
     * The experts' sources of a {@code convert --config} conversion (docs/mergekit.md), or null for
     * any other: random rows are drawn again from the seed; rows computed from prompts are only
     * named, since re-computing them needs the prompts' forward pass (the weight check skips them).
     */
    private static ExpertSources sources(JsonNode m, long seed, String where) {
        if (m == null || m.isNull()) {
            return null;
        }
        JsonNode experts = m.get("experts");
        if (experts == null || !experts.isArray() || experts.isEmpty()) {
            throw bad(where, "mergekit.experts", experts == null ? "missing" : "not a list of experts");
        }
        java.util.List<ExpertSources.Member> members = new java.util.ArrayList<>();
        experts.forEach(e -> members.add(member(e)));
        String mode = text(m, "gate_mode", where);
        GateRows gates = switch (mode) {
            case "random" -> GateRows.random(seed);
            case "uniform_random" -> GateRows.uniformRandom(seed);
            default -> new GateRows(GateRows.Kind.GIVEN, seed, "mergekit " + mode + " gates", null);
        };
        JsonNode shared = m.get("shared_expert");
        return new ExpertSources(members, shared == null || shared.isNull() ? null : member(shared), gates);
    }

    private static ExpertSources.Member member(JsonNode e) {
        return new ExpertSources.Member(e.path("input").asInt(-1), e.path("residual_scale").asDouble(Double.NaN),
                e.path("noise_scale").asDouble(Double.NaN), e.path("positive_prompts").asInt(0),
                e.path("negative_prompts").asInt(0));
    }

    private static int integer(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null || !v.canConvertToInt()) {
            throw bad(where, key, v == null ? "missing" : "not an integer: " + v);
        }
        return v.asInt();
    }

    private static double number(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null || !v.isNumber()) {
            throw bad(where, key, v == null ? "missing" : "not a number: " + v);
        }
        return v.asDouble();
    }

    private static String text(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null || !v.isTextual()) {
            throw bad(where, key, v == null ? "missing" : "not a string: " + v);
        }
        return v.asText();
    }

    private static UpcycleException bad(String where, String key, String why) {
        return new UpcycleException(ErrorKind.InvalidConfig, where, "options." + key + " is " + why);
    }
}
