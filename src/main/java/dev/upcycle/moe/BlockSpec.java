package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.model.MoaConfig.BlockLayout;
import dev.upcycle.model.ModelConfig;

/**
 * The block layout asked for (docs/attention-experts.md, "Block layouts"): {@code --block-layout},
 * {@code --parallel-norms} and {@code --force-parallel}. Null fields mean "as the seed".
 *
 * @param layout        sequential or parallel, or null to keep the seed's
 * @param parallelNorms 1 or 2 norms per parallel block, or null for the seed's (2 when the seed is sequential)
 * @param force         accept a layout the seed does not have, which changes the function
 */
public record BlockSpec(BlockLayout layout, Integer parallelNorms, boolean force) {
    /** Keep the seed's layout. */
    public static final BlockSpec SEED = new BlockSpec(null, null, false);

    public BlockSpec {
        if (parallelNorms != null && (parallelNorms < 1 || parallelNorms > 2)) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--parallel-norms", parallelNorms + " must be 1 or 2");
        }
    }

    /** {@code sequential} / {@code parallel} / {@code seed}. */
    public static BlockLayout parseLayout(String s) {
        return switch (s) {
            case "seed" -> null;
            case "sequential" -> BlockLayout.SEQUENTIAL;
            case "parallel" -> BlockLayout.PARALLEL;
            default -> throw new UpcycleException(ErrorKind.InvalidOption, "--block-layout",
                    "\"" + s + "\" is not one of seed, sequential, parallel"
                            + dev.upcycle.error.Suggestions.didYouMean(s, java.util.List.of("seed", "sequential", "parallel")));
        };
    }

    /**
     * The layout the output gets for {@code seed}.
     *
     * @throws UpcycleException ImpossibleCombination for a layout change without {@link #force},
     *                          InvalidOption for norms given with sequential blocks
     */
    public Resolved resolve(ModelConfig seed) {
        BlockLayout from = seed.blockLayout();
        BlockLayout to = layout == null ? from : layout;
        if (to != from && !force) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--block-layout " + to.token(),
                    "the seed has " + from.token() + " blocks; running it with " + to.token() + " blocks changes "
                            + "its function, because the FFN of a sequential block reads x + attention and that of "
                            + "a parallel block reads x",
                    "pass --force-parallel to convert anyway (step 0 will not match the seed)");
        }
        if (to == BlockLayout.SEQUENTIAL && parallelNorms != null) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--parallel-norms",
                    "applies to parallel blocks only; sequential blocks always have two norms");
        }
        int norms = to == BlockLayout.SEQUENTIAL ? 2
                : parallelNorms != null ? parallelNorms
                : seed.normsPerBlock();
        return new Resolved(to, norms, to != from);
    }

    /**
     * @param layout  the output's block layout
     * @param norms   norms per block (2 for sequential)
     * @param changed whether it differs from the seed's (forced)
     */
    public record Resolved(BlockLayout layout, int norms, boolean changed) {
        public boolean parallel() {
            return layout == BlockLayout.PARALLEL;
        }
    }
}
