package dev.upcycle.moe;

import dev.upcycle.testing.MoeReference;
import dev.upcycle.testing.RelativeError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A miniature planner for tests: builds an MoE layer from a dense FFN with the main code
 * ({@link ExpertLayout}, {@link Scaling}, {@link RouterInitializer}, {@link ExpertSlicer}), with a
 * zero shared-expert gate as docs/method.md, "Shared experts", prescribes.
 */
final class TestUpcycler {
    /** Dense outputs already computed; arrays compare by identity, so a key is one exact input. */
    private record DenseKey(DenseFfn dense, double[][] xs, FfnActivation act, MoeReference.Precision p) {
    }

    private static final Map<DenseKey, double[][]> DENSE = new LinkedHashMap<>(32, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<DenseKey, double[][]> eldest) {
            return size() > 16;
        }
    };

    private TestUpcycler() {
    }

    static MoeReference.Layer build(UpcycleSpec spec, FfnActivation act, DenseFfn dense) {
        return build(spec, dense, Scaling.factors(spec, act));
    }

    /** The same with {@code factors} overridden (negative tests). */
    static MoeReference.Layer build(UpcycleSpec spec, DenseFfn dense, ScaleFactors factors) {
        ExpertLayout layout = ExpertLayout.of(spec, dense.intermediate());
        float[] router = RouterInitializer.routerWeights(spec, 0, dense.hidden(), Fixtures.ROUTER);
        List<MoeReference.Ffn> experts = new ArrayList<>();
        for (int n = 0; n < spec.experts(); n++) {
            experts.add(ffn(ExpertSlicer.expert(dense, layout, factors, n)));
        }
        MoeReference.Ffn shared = layout.hasSharedExpert()
                ? ffn(ExpertSlicer.sharedExpert(dense, layout, factors)) : null;
        return new MoeReference.Layer(spec.routing(), spec.topK(), router, experts, shared,
                new float[dense.hidden()]);
    }

    /** {@code rel} of the upcycled layer against the dense layer over the config's tokens. */
    static double rel(UpcycleSpec spec, FfnActivation act, DenseFfn dense, double[][] xs, MoeReference.Precision p) {
        MoeReference ref = new MoeReference(act, p);
        return RelativeError.of(ref.moe(build(spec, act, dense), xs), dense(act, dense, xs, p));
    }

    /**
     * As {@link #rel}, with ties broken shard-first across virtual groups (a tie order that cuts a
     * group whenever the choice is free), so an exactness claim cannot pass on lowest-index ties.
     */
    static double relCuttingTies(UpcycleSpec spec, FfnActivation act, DenseFfn dense, double[][] xs,
                                 MoeReference.Precision p) {
        MoeReference ref = new MoeReference(act, p).withGroupCuttingTies(spec.experts(), spec.granularity());
        return RelativeError.of(ref.moe(build(spec, act, dense), xs), dense(act, dense, xs, p));
    }

    /** The dense layer's outputs, memoised for the few most recent inputs. */
    static synchronized double[][] dense(FfnActivation act, DenseFfn dense, double[][] xs, MoeReference.Precision p) {
        return DENSE.computeIfAbsent(new DenseKey(dense, xs, act, p),
                k -> new MoeReference(act, p).dense(ffn(dense), xs));
    }

    /** A dense FFN as the reference's FFN. */
    static MoeReference.Ffn ffn(DenseFfn f) {
        return new MoeReference.Ffn(f.hidden(), f.intermediate(), f.gate(), f.up(), f.down(), f.gateBias(), f.upBias(),
                f.downBias());
    }

    /** One sliced expert as the reference's FFN. */
    static MoeReference.Ffn ffn(ExpertTensors e) {
        return new MoeReference.Ffn(e.hidden(), e.width(), e.gate(), e.up(), e.down(), e.gateBias(), e.upBias(),
                e.downBias());
    }
}
