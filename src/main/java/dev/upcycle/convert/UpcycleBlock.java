package dev.upcycle.convert;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.plan.UpcyclePlan;
import java.util.List;

/**
 * The {@code "upcycle"} block of a native config (docs/attention-experts.md,
 * "The native checkpoint format"): how the model was built, for people and tools reading the config.
 * Provenance only: the forward pass never reads it.
 */
final class UpcycleBlock {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private UpcycleBlock() {
    }

    /** @param seedIds one name per input, in expert order (the model's name or directory name) */
    static ObjectNode of(UpcyclePlan plan, List<String> seedIds) {
        MoaSpec moa = plan.request().moa();
        int seeds = seedIds.size();
        ObjectNode o = F.objectNode();
        o.put("method", seeds == 1 ? "upcycle" : moa == null ? "btx" : "bam");
        ArrayNode ids = o.putArray("seeds");
        seedIds.forEach(ids::add);
        o.set("expert_to_seed", expertToSeed(plan.spec().experts(), seeds));
        if (moa != null) {
            o.set("attention_expert_to_seed", expertToSeed(moa.experts(), seeds));
            if (moa.variant() == MoaConfig.Variant.SHARED_KV) {
                o.put("shared_kv_init", moa.sharedKvInitText());
            }
        }
        o.set("router_init", router(plan.spec().routerInit(), plan.spec().routerStd(), plan.spec().seed()));
        if (moa != null) {
            o.set("attention_router_init", router(moa.routerInit(), moa.routerStd(), plan.spec().seed()));
        }
        o.put("expert_noise_std", plan.request().expertNoiseStd());
        return o;
    }

    /** Expert X comes from seed X / (experts per seed), as a merge assigns them. */
    private static ArrayNode expertToSeed(int experts, int seeds) {
        ArrayNode a = F.arrayNode();
        for (int e = 0; e < experts; e++) {
            a.add(e / (experts / seeds));
        }
        return a;
    }

    private static ObjectNode router(RouterInit init, double std, long seed) {
        ObjectNode r = F.objectNode();
        r.put("kind", switch (init) {
            case ZERO -> "zeros";
            case RANDOM -> "normal";
            case VIRTUAL_GROUP -> "virtual_group";
        });
        if (init != RouterInit.ZERO) {
            r.put("std", std);
        }
        r.put("rng_seed", seed);
        return r;
    }
}
