package dev.upcycle.verify;

import dev.upcycle.convert.PlanExecutor;
import dev.upcycle.error.Cancellation;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.DType;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import dev.upcycle.plan.GateRows;
import dev.upcycle.plan.PlannedTensor;
import dev.upcycle.plan.TensorSource;
import dev.upcycle.plan.UpcyclePlan;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Compares every tensor of a converted checkpoint with what its plan says it must be, by
 * replaying the plan through the converter's own executor ({@link PlanExecutor}) into a
 * {@link ComparingSink}: copies and slices byte for byte, scaled experts as the converter
 * rounds them (once, from float64), merged tensors as their once-rounded mean, zeros and
 * constants as such. Routers and noised experts are drawn at conversion and are listed as
 * unchecked. Streams tensor by tensor in chunks of a few MiB, never a whole file.
 */
final class WeightCheck {
    private final LongConsumer progress;
    /** The seeds are byte-identical (or there is one): a mean of them is each seed's own value. */
    private final boolean identicalSeeds;

    WeightCheck(LongConsumer progress, boolean identicalSeeds) {
        this.progress = progress;
        this.identicalSeeds = identicalSeeds;
    }

    /**
     * Checks {@code output} against each plan in turn and returns the first that fits every
     * tensor; when none does, the one that fits furthest, with its first difference.
     */
    WeightResult check(PlanCandidates.Found found, List<Checkpoint> seeds, Checkpoint output) {
        if (found.plans().isEmpty()) {
            return new WeightResult(found.basis(), "", null, 0, 0, List.of(), null,
                    "no conversion of the dense model with the options its config implies writes these tensors "
                            + "(names, shapes and dtypes)", false);
        }
        WeightResult best = null;
        int bestReach = -1;
        ByteBuffer a = ByteBuffer.allocateDirect(ComparingSink.CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = ByteBuffer.allocateDirect(ComparingSink.CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (UpcyclePlan plan : found.plans()) {
            Map<String, TensorHeader> written = new java.util.LinkedHashMap<>();
            output.tensors().values().forEach(r -> written.put(r.name(), r.header()));
            String mismatch = structuralDifference(plan, written);
            if (mismatch != null) {
                if (best == null) {
                    best = new WeightResult(found.basis(), options(plan), plan.fidelity(), 0, 0, List.of(), null,
                            mismatch, false);
                }
                continue;
            }
            int[] reach = {0};
            WeightResult r = one(plan, found.basis(), seeds, output, a, b, reach);
            if (r.passed()) {
                return r;
            }
            if (reach[0] > bestReach) {
                best = r;
                bestReach = reach[0];
            }
        }
        return best;
    }

    private WeightResult one(UpcyclePlan plan, String basis, List<Checkpoint> seeds, Checkpoint output,
                             ByteBuffer a, ByteBuffer b, int[] reach) {
        // the executor's workers compute chunked tensors as convert does; closing stops them
        try (PlanExecutor executor = PlanExecutor.replaying(plan, seeds)) {
            return one(executor, plan, basis, seeds, output, a, b, reach);
        }
    }

    private WeightResult one(PlanExecutor executor, UpcyclePlan plan, String basis, List<Checkpoint> seeds,
                             Checkpoint output, ByteBuffer a, ByteBuffer b, int[] reach) {
        List<WeightResult.Unchecked> unchecked = new ArrayList<>();
        int checked = 0;
        long bytes = 0;
        boolean copies = true;
        for (PlannedTensor t : plan.tensors()) {
            Cancellation.check();
            String why = uncheckedReason(t.source());
            if (why != null) {
                unchecked.add(new WeightResult.Unchecked(t.name(), why));
                continue;
            }
            TensorRef actual = output.tensor(t.name());
            ComparingSink sink = new ComparingSink(actual, a, b);
            try {
                executor.fill(t, sink);
            } catch (ComparingSink.Difference d) {
                progress.accept(sink.written());
                return new WeightResult(basis, options(plan), plan.fidelity(), checked, bytes + sink.written(), unchecked,
                        new WeightResult.Difference(t.name(), d.index, position(d.index, t.shape().dims()),
                                d.expected, d.actual, t.source().describe()),
                        null, false);
            }
            if (sink.written() != t.byteSize()) {
                throw new IllegalStateException("the plan wrote " + sink.written() + " of " + t.byteSize()
                        + " bytes of " + t.name());
            }
            progress.accept(t.byteSize());
            copies &= valuesUnchanged(t, seeds.get(0), identicalSeeds);
            checked++;
            bytes += t.byteSize();
            reach[0]++;
        }
        return new WeightResult(basis, options(plan), plan.fidelity(), checked, bytes, unchecked, null, null, copies);
    }

    /** {@code index} as one index per dimension (row-major). */
    static List<Long> position(long index, long[] dims) {
        Long[] out = new Long[dims.length];
        for (int i = dims.length - 1; i >= 0; i--) {
            long d = Math.max(dims[i], 1);
            out[i] = index % d;
            index /= d;
        }
        return List.of(out);
    }

    /** Why a tensor's values cannot be re-created, or null when they can. */
    static String uncheckedReason(TensorSource s) {
        if (s instanceof TensorSource.Noisy n) {
            return "expert noise N(0, " + n.std() + "^2) was added (--expert-noise-std); its draw is "
                    + "not part of the dense model";
        }
        if (s instanceof TensorSource.Router) {
            return "a router is a fresh initialisation, not a dense weight; the functional check measures its effect";
        }
        if (s instanceof TensorSource.Gates g && g.kind() == GateRows.Kind.GIVEN) {
            return "router rows computed from the configuration's prompts at conversion (" + g.what()
                    + "); re-computing them needs the prompts' forward pass, so the functional check measures "
                    + "their effect";
        }
        return null;
    }

    /**
     * True when the tensor holds its source's values unchanged: a copy, slice or mean of identical
     * parts in the source dtype, zeros or a constant, or a scaling by a power of two (exact in
     * binary floating point).
     */
    private static boolean valuesUnchanged(PlannedTensor t, Checkpoint dense, boolean identicalSeeds) {
        TensorSource s = t.source() instanceof TensorSource.Seed seed ? seed.source() : t.source();
        double factor = 1;
        if (s instanceof TensorSource.RowSlice r) {
            factor = r.factor();
        } else if (s instanceof TensorSource.ColumnSlice c) {
            factor = c.factor();
        } else if (s instanceof TensorSource.Mean) {
            // The mean of equal values, in float64, is that value.
            if (!identicalSeeds) {
                return false;
            }
        }
        if (factor != 1 && !(factor > 0 && factor == Math.scalb(1.0, Math.getExponent(factor)))) {
            return false;
        }
        String name = s.sourceName();
        if (name == null) {
            return true;
        }
        DType from = dense.tensor(name).header().dtype();
        return from == t.dtype();
    }

    /** The first way the plan's tensors differ from the checkpoint's (names, shapes, dtypes), or null. */
    static String structuralDifference(UpcyclePlan plan, Map<String, TensorHeader> written) {
        java.util.Set<String> planned = new java.util.HashSet<>();
        for (PlannedTensor t : plan.tensors()) {
            planned.add(t.name());
            TensorHeader h = written.get(t.name());
            if (h == null) {
                return "the plan writes " + t.name() + ", which the checkpoint lacks";
            }
            if (!h.shape().equals(t.shape())) {
                return t.name() + " has shape " + h.shape() + ", the plan's is " + t.shape();
            }
            // A router's values are not checked, so neither is the dtype it was stored in.
            if (h.dtype() != t.dtype() && !(t.source() instanceof TensorSource.Router)) {
                return t.name() + " is " + h.dtype() + ", the plan writes " + t.dtype();
            }
        }
        for (String name : written.keySet()) {
            if (!planned.contains(name)) {
                return "the checkpoint has " + name + ", which the plan does not write";
            }
        }
        return null;
    }

    /** The plan's options in words, for the report. */
    static String options(UpcyclePlan plan) {
        var s = plan.spec();
        return String.format(Locale.ROOT, "%s, %s, routing %s, scaling %s, router %s%s", plan.target().cliName(),
                s.configName(), s.routing().cliName(), s.scaling().cliName(), s.routerInit().cliName(),
                plan.request().dtype() == null ? "" : ", dtype " + plan.request().dtype());
    }
}
