package dev.upcycle.plan;

import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RouterInitializer;
import dev.upcycle.moe.UpcycleSpec;
import java.util.Locale;

/**
 * Where the bytes of one output tensor come from. Slices index the dense tensor's first
 * dimension (rows) or second (columns); a factor is applied in float64 and rounded once into the
 * output dtype (docs/formats.md, "Dtypes"). A factor of exactly 1 with an unchanged dtype is a byte
 * copy.
 */
public sealed interface TensorSource {

    /** A short human-readable description for plans. */
    String describe();

    /** The source tensor read, or null for synthesised tensors. */
    default String sourceName() {
        return null;
    }

    /** The whole source tensor, byte for byte (or converted when the output dtype differs). */
    record Copy(String sourceName) implements TensorSource {
        @Override
        public String describe() {
            return "copy " + sourceName;
        }
    }

    /** Rows {@code [start, end)} of a {@code [rows, cols]} source, times {@code factor}. */
    record RowSlice(String sourceName, int start, int end, double factor) implements TensorSource {
        @Override
        public String describe() {
            return sourceName + " rows [" + start + ", " + end + ")" + times(factor);
        }
    }

    /** Columns {@code [start, end)} of a {@code [rows, cols]} source, times {@code factor}. */
    record ColumnSlice(String sourceName, int start, int end, double factor) implements TensorSource {
        @Override
        public String describe() {
            return sourceName + " cols [" + start + ", " + end + ")" + times(factor);
        }
    }

    /**
     * A router {@code [N, d]} drawn by {@link RouterInitializer}, keyed by the seed and the output
     * tensor name.
     */
    record Router(RouterInit init, double std, long seed, int experts, int granularity, int layer)
            implements TensorSource {
        @Override
        public String describe() {
            return switch (init) {
                case ZERO -> "router: zeros";
                case RANDOM -> "router: random N(0, " + fmt(std) + "^2), seed " + seed;
                case VIRTUAL_GROUP -> "router: virtual-group N(0, " + fmt(std) + "^2), " + experts / granularity
                        + " rows x" + granularity + ", seed " + seed;
            };
        }

        /** The spec {@link RouterInitializer} needs. */
        public UpcycleSpec spec() {
            return UpcycleSpec.builder().experts(experts).granularity(granularity).topK(1).routerInit(init)
                    .routerStd(std).seed(seed).build();
        }
    }

    /**
     * Router rows {@code [first, first + count)} of a mergekit-style conversion ({@link GateRows}):
     * drawn per element from a stream keyed by the seed and the output tensor's name, or given
     * ({@code values}, {@code [count * hidden]}, computed from prompts).
     *
     * @param what for given rows, how they were made and from how many prompts
     */
    record Gates(GateRows.Kind kind, long seed, int layer, int first, int count, float[] values, String what)
            implements TensorSource {
        @Override
        public String describe() {
            return switch (kind) {
                case RANDOM -> "router: mergekit random N(0, 1), seed " + seed;
                case UNIFORM_RANDOM -> "router: mergekit uniform_random U(-1/sqrt(d), 1/sqrt(d)), seed " + seed;
                case GIVEN -> "router: " + what;
            };
        }

        /** The rows' values, {@code [count * hidden]} row-major, for the tensor called {@code name}. */
        public float[] values(String name, int hidden) {
            if (values != null) {
                return values.clone();
            }
            if (kind == GateRows.Kind.GIVEN) {
                throw new IllegalStateException("the rows of " + name + " were computed at conversion and are not known here");
            }
            dev.upcycle.math.SeededGaussian g = dev.upcycle.math.SeededGaussian.forName(seed, name);
            float[] w = new float[count * hidden];
            double bound = 1.0 / StrictMath.sqrt(hidden);
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) (kind == GateRows.Kind.RANDOM ? g.next() : (2 * g.uniform() - 1) * bound);
            }
            return w;
        }
    }

    /** All zeros: a neutral bias, the shared-expert gate, or the neutral shared expert. */
    record Zeros() implements TensorSource {
        @Override
        public String describe() {
            return "zeros";
        }
    }

    /** Every element equal to {@code value} (ones for a norm the source lacks). */
    record Constant(double value) implements TensorSource {
        @Override
        public String describe() {
            return "constant " + fmt(value);
        }
    }

    /**
     * {@code source} read from input checkpoint {@code index} (merges of several seeds,
     * docs/attention-experts.md); a source without this wrapper reads input 0.
     */
    record Seed(int index, TensorSource source) implements TensorSource {
        @Override
        public String describe() {
            return "seed " + index + ": " + source.describe();
        }

        @Override
        public String sourceName() {
            return source.sourceName();
        }
    }

    /**
     * The element-wise mean of {@code parts} (each a whole tensor), in float64, rounded once
     * (docs/attention-experts.md, "Several seeds: BTX and BAM merges").
     */
    record Mean(java.util.List<TensorSource> parts) implements TensorSource {
        public Mean {
            parts = java.util.List.copyOf(parts);
        }

        @Override
        public String describe() {
            return "mean of " + parts.size() + " seeds: " + parts.get(0).sourceName();
        }

        @Override
        public String sourceName() {
            return parts.get(0).sourceName();
        }
    }

    /**
     * {@code source} plus Gaussian noise {@code N(0, std^2)} per element, drawn from a stream keyed
     * by {@code seed} and the output tensor's name ({@code expert_noise_std}:
     * docs/attention-experts.md, "One seed: copies, and why the router then learns nothing").
     */
    record Noisy(TensorSource source, double std, long seed) implements TensorSource {
        @Override
        public String describe() {
            return source.describe() + " + noise N(0, " + fmt(std) + "^2), seed " + seed;
        }

        @Override
        public String sourceName() {
            return source.sourceName();
        }
    }

    private static String times(double factor) {
        return factor == 1.0 ? "" : " x " + fmt(factor);
    }

    static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", v)).stripTrailingZeros().toPlainString();
    }
}
