package dev.upcycle.plan;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.moe.BlockSpec;
import dev.upcycle.moe.LayerSelection;
import dev.upcycle.moe.MoaSpec;
import dev.upcycle.moe.UpcycleSpec;
import dev.upcycle.plan.target.MoeTargets;
import java.util.Objects;

/**
 * Everything {@code upcycle convert} was asked for, as one value: the maths ({@link UpcycleSpec})
 * and the output choices.
 *
 * @param spec              experts, top-k, granularity, routing, scaling, router, shared expert
 * @param target            {@code auto} or a target's CLI name ({@link MoeTargets})
 * @param layers            which layers become MoE layers
 * @param dtype             output dtype, or null to keep each tensor's source dtype
 * @param maxShardSize      largest output shard in bytes
 * @param allowApproximate  proceed when the target's attention or norms cannot express the source
 * @param routerAuxLossCoef the load-balancing loss weight written to config.json (docs/method.md,
 *                          "Training losses")
 * @param moa               attention experts (docs/attention-experts.md), or null to keep the dense
 *                          attention
 * @param block             the block layout (docs/attention-experts.md, "Block layouts");
 *                          {@link BlockSpec#SEED} keeps the seed's
 * @param expertNoiseStd    standard deviation of Gaussian noise added to every copied expert weight
 *                          (breaks the symmetry of identical experts; 0 keeps them exact)
 * @param sources           experts taken whole from named inputs with given router rows (a mergekit-moe
 *                          configuration, docs/mergekit.md), or null to slice the dense FFN of input 0
 *                          (or merge the seeds)
 */
public record UpcycleRequest(UpcycleSpec spec, String target, LayerSelection layers, DType dtype,
                             long maxShardSize, boolean allowApproximate, double routerAuxLossCoef, MoaSpec moa,
                             BlockSpec block, double expertNoiseStd, ExpertSources sources) {

    public UpcycleRequest(UpcycleSpec spec, String target, LayerSelection layers, DType dtype, long maxShardSize,
                          boolean allowApproximate, double routerAuxLossCoef, MoaSpec moa, BlockSpec block,
                          double expertNoiseStd) {
        this(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa, block, expertNoiseStd,
                null);
    }

    public UpcycleRequest(UpcycleSpec spec, String target, LayerSelection layers, DType dtype, long maxShardSize,
                          boolean allowApproximate, double routerAuxLossCoef) {
        this(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, null);
    }

    public UpcycleRequest(UpcycleSpec spec, String target, LayerSelection layers, DType dtype, long maxShardSize,
                          boolean allowApproximate, double routerAuxLossCoef, MoaSpec moa) {
        this(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa, BlockSpec.SEED, 0.0);
    }

    /** alpha = 1e-2, the paper's choice (docs/method.md, "Training losses"). */
    public static final double DEFAULT_AUX_LOSS = 1e-2;
    /** transformers v4's default shard size. */
    public static final long DEFAULT_SHARD_SIZE = 5_000_000_000L;

    public UpcycleRequest {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(layers, "layers");
        if (dtype != null && !dtype.isWritable()) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--dtype", dtype + " cannot be written; use f32, bf16 or f16");
        }
        Objects.requireNonNull(block, "block");
        if (!Double.isFinite(expertNoiseStd) || expertNoiseStd < 0) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--expert-noise-std",
                    expertNoiseStd + " must be a finite number >= 0");
        }
        if (maxShardSize < 1) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--max-shard-size", "must be at least 1 byte");
        }
    }

    /** Defaults for everything but the spec: auto target, all layers, dtype kept, 5GB shards. */
    public static UpcycleRequest of(UpcycleSpec spec) {
        return new UpcycleRequest(spec, MoeTargets.AUTO, LayerSelection.ALL, null, DEFAULT_SHARD_SIZE, false,
                DEFAULT_AUX_LOSS);
    }

    public UpcycleRequest withTarget(String t) {
        return new UpcycleRequest(spec, t, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa, block, expertNoiseStd, sources);
    }

    public UpcycleRequest withLayers(LayerSelection l) {
        return new UpcycleRequest(spec, target, l, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa, block, expertNoiseStd, sources);
    }

    public UpcycleRequest withDtype(DType d) {
        return new UpcycleRequest(spec, target, layers, d, maxShardSize, allowApproximate, routerAuxLossCoef, moa, block, expertNoiseStd, sources);
    }

    public UpcycleRequest withMaxShardSize(long s) {
        return new UpcycleRequest(spec, target, layers, dtype, s, allowApproximate, routerAuxLossCoef, moa, block, expertNoiseStd, sources);
    }

    public UpcycleRequest withAllowApproximate(boolean a) {
        return new UpcycleRequest(spec, target, layers, dtype, maxShardSize, a, routerAuxLossCoef, moa, block, expertNoiseStd, sources);
    }

    public UpcycleRequest withBlock(BlockSpec b) {
        return new UpcycleRequest(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa, b,
                expertNoiseStd, sources);
    }

    public UpcycleRequest withExpertNoiseStd(double std) {
        return new UpcycleRequest(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa,
                block, std, sources);
    }

    public UpcycleRequest withMoa(MoaSpec m) {
        return new UpcycleRequest(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, m, block, expertNoiseStd, sources);
    }

    public UpcycleRequest withSources(ExpertSources s) {
        return new UpcycleRequest(spec, target, layers, dtype, maxShardSize, allowApproximate, routerAuxLossCoef, moa,
                block, expertNoiseStd, s);
    }
}
