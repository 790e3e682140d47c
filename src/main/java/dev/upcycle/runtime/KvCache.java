package dev.upcycle.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Keys (after RoPE) and values of the tokens decoded so far, for incremental decoding
 * (docs/attention-experts.md, "KV cache"). Indexed {@code [layer][slot]}: one slot per dense or
 * shared_kv MoA layer, one per attention expert in a separate MoA layer. A slot holds
 * {@code [B, h_kv, T, hd]}: the key/value heads, not their GQA repeats. A layer with a sliding window
 * of {@code w} keeps only its last {@code w − 1} positions between steps (all a later query can see
 * besides itself), so its memory is bounded by the window; the mask works on relative positions, so a
 * suffix of the keys is enough.
 *
 * <p>The arrays live in a sub-manager the cache owns. A forward step borrows them into its own
 * scope ({@code tempAttach}), so what the step derives from them is freed with the step; they
 * come back when that scope closes. Close the cache after the steps' scopes and before the model.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final List<List<Slot>> slots;
    private int length;

    KvCache(ModelConfig config, NDManager parent) {
        this.manager = parent.newSubManager();
        List<List<Slot>> all = new ArrayList<>();
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            List<Slot> row = new ArrayList<>();
            Integer window = config.slidingWindow(layer);
            for (int s = 0; s < slots(config, layer); s++) {
                row.add(new Slot(manager, window == null ? null : Math.max(1, window - 1)));
            }
            all.add(List.copyOf(row));
        }
        this.slots = List.copyOf(all);
    }

    /** Slots of {@code layer}: E_a for a separate MoA layer (each expert has its own k/v), else 1. */
    public static int slots(ModelConfig config, int layer) {
        boolean separate = config.isMoaLayer(layer) && config.moa().variant() == MoaConfig.Variant.SEPARATE;
        return separate ? config.moa().numAttentionExperts() : 1;
    }

    /**
     * Cached floats (K and V) per token in {@code layer}: {@code slots · 2 · h_kv · hd}
     * (docs/attention-experts.md, "KV cache").
     */
    public static long floatsPerToken(ModelConfig config, int layer) {
        return slots(config, layer) * 2L * config.numKeyValueHeads() * config.headDim();
    }

    /** Cached floats (K and V) per token of one sequence, over all layers. */
    public static long floatsPerToken(ModelConfig config) {
        long sum = 0;
        for (int layer = 0; layer < config.numHiddenLayers(); layer++) {
            sum += floatsPerToken(config, layer);
        }
        return sum;
    }

    /** Tokens cached per sequence: the position the next token takes. */
    public int length() {
        return length;
    }

    /** Floats held now (K and V of every slot, every sequence of the batch). */
    public long floats() {
        long sum = 0;
        for (List<Slot> row : slots) {
            for (Slot s : row) {
                sum += s.floats();
            }
        }
        return sum;
    }

    /** Layers the cache was made for. */
    public int layers() {
        return slots.size();
    }

    Slot slot(int layer, int index) {
        return slots.get(layer).get(index);
    }

    /** Called once every layer has appended {@code tokens} new positions. */
    void advance(int tokens) {
        length += tokens;
    }

    @Override
    public void close() {
        manager.close();
    }

    /** Keys and values of one attention, as a step's queries see them: every visible position, new ones last. */
    record Kv(NDArray k, NDArray v) {
    }

    /** The keys and values of one attention (a layer, or one expert of a separate MoA layer). */
    static final class Slot {
        private final NDManager owner;
        /** Positions kept between steps, or null for all of them. */
        private final Integer keep;
        private NDArray k;
        private NDArray v;

        private Slot(NDManager owner, Integer keep) {
            this.owner = owner;
            this.keep = keep;
        }

        /**
         * Appends the new positions' keys and values {@code [B, h_kv, T_new, hd]} (keys after RoPE)
         * and lends the whole cache to their scope until it closes.
         */
        Kv append(NDArray newK, NDArray newV) {
            NDManager scope = newK.getManager();
            NDArray allK = concat(k, newK);
            NDArray allV = concat(v, newV);
            if (keep == null) {
                k = lend(allK, scope);
                v = lend(allV, scope);
            } else {
                // Windowed: this step sees every position it needs, and only the last `keep` survive it.
                allK.attach(scope);
                allV.attach(scope);
                k = suffix(allK);
                v = suffix(allV);
            }
            return new Kv(allK, allV);
        }

        private static NDArray concat(NDArray old, NDArray fresh) {
            NDArray all = old == null ? fresh : old.concat(fresh, 2);
            if (old != null) {
                old.close();
            }
            return all;
        }

        /** Owned by the cache, borrowed by the step's scope until it closes. */
        private NDArray lend(NDArray all, NDManager scope) {
            all.attach(owner);
            all.tempAttach(scope);
            return all;
        }

        /** The last {@code keep} positions as a copy the cache owns (a slice would keep the whole buffer alive). */
        private NDArray suffix(NDArray all) {
            long t = all.getShape().get(2);
            NDArray kept = all.get(new NDIndex(":, :, {}:, :", Math.max(0, t - keep))).duplicate();
            kept.attach(owner);
            return kept;
        }

        long floats() {
            return k == null ? 0 : k.size() + v.size();
        }
    }
}
