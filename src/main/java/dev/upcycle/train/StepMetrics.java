package dev.upcycle.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * One line of {@code metrics.jsonl}: a training step (1-based {@code step}, after the update) or
 * an evaluation ({@code evalLoss} set, the rest NaN). Doubles are written by Jackson in their
 * shortest round-trip form, so a resumed run's lines compare bit for bit.
 *
 * @param loss       mean cross-entropy of the step's tokens (nats), without the auxiliary terms
 * @param aux        weighted load-balancing loss {@code α·N·Σ f·P} (0 for a dense model)
 * @param z          weighted router z-loss
 * @param gradNorm   global gradient norm before clipping
 * @param expertLoad per sparse layer, the fraction of routed slots each expert received
 */
public record StepMetrics(int step, double lr, double loss, double aux, double z, double gradNorm,
                          double tokensPerSecond, Map<Integer, double[]> expertLoad, Double evalLoss) {

    public static StepMetrics eval(int step, double loss) {
        return new StepMetrics(step, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Map.of(),
                loss);
    }

    public boolean isEval() {
        return evalLoss != null;
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("step", step);
        if (isEval()) {
            o.put("eval_loss", evalLoss);
            return o;
        }
        o.put("lr", lr);
        o.put("loss", loss);
        o.put("aux", aux);
        o.put("z", z);
        o.put("grad_norm", gradNorm);
        o.put("tokens_per_s", tokensPerSecond);
        if (!expertLoad.isEmpty()) {
            ObjectNode load = o.putObject("expert_load");
            expertLoad.forEach((layer, f) -> {
                ArrayNode a = load.putArray(Integer.toString(layer));
                for (double v : f) {
                    a.add(v);
                }
            });
        }
        return o;
    }

    /** A line as written by {@link #toJson}, checked field by field (see {@link StateFields}). */
    static StepMetrics fromJson(JsonNode o, StateFields f) {
        int step = (int) f.integer(o, "step", 1, Integer.MAX_VALUE);
        if (o.has("eval_loss")) {
            // A diverged model's eval loss is NaN, which the writer spells "NaN": the one non-finite value a run writes.
            return eval(step, "NaN".equals(o.get("eval_loss").textValue()) ? Double.NaN : f.finite(o, "eval_loss"));
        }
        Map<Integer, double[]> load = new TreeMap<>();
        JsonNode l = o.path("expert_load");
        if (!l.isMissingNode() && !l.isObject()) {
            throw f.bad("expert_load", "must be a map of layer to fractions");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = l.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String field = "expert_load." + e.getKey();
            if (!e.getKey().matches("\\d{1,6}") || !e.getValue().isArray()) {
                throw f.bad(field, "must be a layer number with a list of fractions");
            }
            double[] fractions = new double[e.getValue().size()];
            for (int i = 0; i < fractions.length; i++) {
                JsonNode v = e.getValue().get(i);
                if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
                    throw f.bad(field, "holds " + v + ", not a finite number");
                }
                fractions[i] = v.asDouble();
            }
            load.put(Integer.parseInt(e.getKey()), fractions);
        }
        return new StepMetrics(step, f.finite(o, "lr"), f.finite(o, "loss"), f.finite(o, "aux"), f.finite(o, "z"),
                f.finite(o, "grad_norm"), f.finite(o, "tokens_per_s"), load, null);
    }
}
