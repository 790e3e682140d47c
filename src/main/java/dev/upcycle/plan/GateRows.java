package dev.upcycle.plan;

import java.util.Objects;

/**
 * The router rows of a mergekit-style conversion, one per gate (the routed experts, then the shared
 * expert), for every layer: drawn from a stream keyed by {@code seed} and the tensor's name
 * ({@link Kind#RANDOM}: N(0, 1) per element; {@link Kind#UNIFORM_RANDOM}: U(-1/sqrt(d), 1/sqrt(d)),
 * a linear layer's default initialisation), or given ({@link Kind#GIVEN}, computed from prompts before
 * planning).
 *
 * @param kind  how the rows come about
 * @param seed  the random stream's seed (random kinds)
 * @param label how the given rows were made, for plans (e.g. "mergekit hidden_last gates")
 * @param rows  {@code [layers][gates * hidden]} for {@link Kind#GIVEN}; null for the random kinds, and for
 *              given rows that are only recorded (verify re-plans a conversion without them)
 */
public record GateRows(Kind kind, long seed, String label, float[][] rows) {
    /** How the rows come about. */
    public enum Kind {
        RANDOM, UNIFORM_RANDOM, GIVEN
    }

    public GateRows {
        Objects.requireNonNull(kind, "kind");
        if (kind != Kind.GIVEN && rows != null) {
            throw new IllegalArgumentException(kind + " with " + (rows == null ? "no" : "given") + " rows");
        }
    }

    public static GateRows random(long seed) {
        return new GateRows(Kind.RANDOM, seed, "random", null);
    }

    public static GateRows uniformRandom(long seed) {
        return new GateRows(Kind.UNIFORM_RANDOM, seed, "uniform_random", null);
    }

    public static GateRows given(String label, float[][] rows) {
        return new GateRows(Kind.GIVEN, 0, label, rows);
    }

    /** Rows {@code [first, first + count)} of {@code layer}, each {@code hidden} long; null unless given. */
    float[] slice(int layer, int first, int count, int hidden) {
        if (rows == null) {
            return null;
        }
        if (layer >= rows.length || (long) (first + count) * hidden > rows[layer].length) {
            throw new IllegalStateException("given gate rows have " + rows.length + " layers of "
                    + (rows.length == 0 ? 0 : rows[0].length) + " values; layer " + layer + " rows [" + first + ", "
                    + (first + count) + ") of " + hidden + " asked");
        }
        return java.util.Arrays.copyOfRange(rows[layer], first * hidden, (first + count) * hidden);
    }
}
