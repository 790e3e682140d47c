package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.io.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A model family, read from its JSON resource: how its {@code config.json} is spelled and
 * which tensors its checkpoints hold. The only place tensor names are built.
 *
 * @param name           the family name used on the command line ({@code llama}, {@code mixtral}, ...)
 * @param modelType      {@code config.json} {@code model_type}
 * @param architecture   {@code config.json} {@code architectures[0]}
 * @param moe            whether the family has routed experts
 * @param keys           MoE key names ({@link ConfigKeys#DENSE} for dense families)
 * @param sparseLayers   which layers carry experts
 * @param optionalFields optional {@code config.json} keys this family reads and writes beyond
 *                       the common dense set; any other such field must keep its default
 * @param defaults       class defaults that differ from the common ones, keyed by config key;
 *                       values are JSON scalars
 * @param templates      every tensor, in state-dict order; consecutive EXPERT templates repeat
 *                       together, expert by expert
 */
public record Family(String name, String modelType, String architecture, boolean moe, ConfigKeys keys,
                     SparseLayerRule sparseLayers, Set<String> optionalFields, Map<String, JsonNode> defaults,
                     List<TensorTemplate> templates) {

    public Family {
        Objects.requireNonNull(name);
        Objects.requireNonNull(modelType);
        Objects.requireNonNull(architecture);
        Objects.requireNonNull(keys);
        Objects.requireNonNull(sparseLayers);
        optionalFields = Set.copyOf(optionalFields);
        defaults = Map.copyOf(defaults);
        for (var e : defaults.entrySet()) {
            if (!e.getValue().isValueNode()) {
                // Value nodes are immutable, so the record stays immutable without copying on read.
                throw new IllegalArgumentException(name + ": default " + e.getKey() + " must be a scalar");
            }
        }
        templates = List.copyOf(templates);
        if (moe != (sparseLayers != SparseLayerRule.NONE) || moe != (keys.numExperts() != null)) {
            throw new IllegalArgumentException(name + ": moe, sparse layer rule and expert keys disagree");
        }
        for (int i = 0; i < templates.size(); i++) {
            for (int j = i + 1; j < templates.size(); j++) {
                if (templates.get(i).role() == templates.get(j).role()) {
                    throw new IllegalArgumentException(name + ": role " + templates.get(i).role() + " twice");
                }
            }
        }
    }

    /** Whether this family reads and writes the optional config key {@code key}. */
    public boolean declares(String key) {
        return optionalFields.contains(key);
    }

    /** The family's class default for {@code key}, if it has its own. */
    public Optional<JsonNode> defaultValue(String key) {
        return Optional.ofNullable(defaults.get(key));
    }

    /** The template of {@code role}, if this family has such a tensor. */
    public Optional<TensorTemplate> template(TensorRole role) {
        return templates.stream().filter(t -> t.role() == role).findFirst();
    }

    /** Whether the family has attention experts (native MoA format, docs/attention-experts.md). */
    public boolean moa() {
        return keys.numAttentionExperts() != null;
    }

    public boolean has(TensorRole role) {
        return template(role).isPresent();
    }

    /**
     * The name of the {@code role} tensor; {@code layer} and {@code expert} are ignored where
     * the role has no such index (pass -1).
     *
     * @throws IllegalArgumentException when the family has no such role, or an index it needs is negative
     */
    public String tensorName(TensorRole role, int layer, int expert) {
        return template(role)
                .orElseThrow(() -> new IllegalArgumentException("family " + name + " has no " + role + " tensor"))
                .name(layer, expert);
    }

    /** Shorthand for roles outside the layers ({@code EMBED}, {@code FINAL_NORM}, {@code LM_HEAD}). */
    public String tensorName(TensorRole role) {
        return tensorName(role, -1, -1);
    }

    /** Every tensor {@code config} promises, in state-dict order. */
    public List<ExpectedTensor> expectedTensors(ModelConfig config) {
        if (!config.family().name().equals(name)) {
            throw new IllegalArgumentException("config is for family " + config.family().name() + ", not " + name);
        }
        List<ExpectedTensor> out = new ArrayList<>();
        addAll(out, config, TensorTemplate.Scope.PRE, -1);
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            addLayer(out, config, layer);
        }
        addAll(out, config, TensorTemplate.Scope.POST, -1);
        return List.copyOf(out);
    }

    /** Parses a concrete tensor name back into (role, layer, expert); empty when no template matches. */
    public Optional<TensorId> roleOf(String tensorName) {
        for (TensorTemplate t : templates) {
            Optional<int[]> m = t.match(tensorName);
            if (m.isPresent()) {
                return Optional.of(new TensorId(t.role(), m.get()[0], m.get()[1]));
            }
        }
        return Optional.empty();
    }

    private void addAll(List<ExpectedTensor> out, ModelConfig config, TensorTemplate.Scope scope, int layer) {
        for (TensorTemplate t : templates) {
            if (t.scope() == scope) {
                add(out, config, t, layer, -1);
            }
        }
    }

    private void addLayer(List<ExpectedTensor> out, ModelConfig config, int layer) {
        int i = 0;
        while (i < templates.size()) {
            TensorTemplate t = templates.get(i);
            if (t.scope() == TensorTemplate.Scope.LAYER) {
                add(out, config, t, layer, -1);
                i++;
            } else if (t.scope() == TensorTemplate.Scope.EXPERT) {
                // A run of expert templates is one expert module: emit it whole, expert by expert,
                // as a state dict does (experts.0.w1, experts.0.w2, ..., experts.1.w1, ...).
                int end = i;
                while (end < templates.size() && templates.get(end).scope() == TensorTemplate.Scope.EXPERT
                        && templates.get(end).experts() == t.experts()) {
                    end++;
                }
                int experts = t.experts() == Dim.EA ? (config.moa() == null ? 0 : config.moa().numAttentionExperts())
                        : config.moe() == null ? 0 : config.moe().numExperts();
                for (int x = 0; x < experts; x++) {
                    for (int k = i; k < end; k++) {
                        add(out, config, templates.get(k), layer, x);
                    }
                }
                i = end;
            } else {
                i++;
            }
        }
    }

    private static void add(List<ExpectedTensor> out, ModelConfig config, TensorTemplate t, int layer, int expert) {
        if (!t.when().test(config, layer)) {
            return;
        }
        long[] dims = new long[t.shape().size()];
        for (int k = 0; k < dims.length; k++) {
            dims[k] = t.shape().get(k).value(config);
        }
        out.add(new ExpectedTensor(t.name(layer, expert), t.role(), layer, expert, Shape.of(dims)));
    }

    @Override
    public String toString() {
        return name;
    }
}
