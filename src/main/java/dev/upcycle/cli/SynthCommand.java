package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.DType;
import dev.upcycle.io.OutputDirectory;
import dev.upcycle.io.Provenance;
import dev.upcycle.model.Family;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.model.ModelConfig;
import dev.upcycle.synth.Synthesizer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code upcycle synth}: a deterministic random dense checkpoint of any supported family. */
@Command(name = "synth", sortOptions = false, mixinStandardHelpOptions = true,
        description = "Write a deterministic random dense checkpoint (same seed, same bytes).",
        footerHeading = "%nExample:%n",
        footer = "  upcycle synth --family qwen2 --layers 2 --hidden 64 -o /tmp/tiny-qwen2")
final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--family", completionCandidates = Candidates.DenseFamily.class, required = true, paramLabel = "NAME",
            description = "Dense family: llama, mistral, qwen2 or qwen3.")
    String family;

    @Mixin
    OutputOptions output;

    @Option(names = "--layers", paramLabel = "N", defaultValue = "2", description = "Decoder layers (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--hidden", paramLabel = "N", defaultValue = "64", description = "Hidden size (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--heads", paramLabel = "N", defaultValue = "4", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--kv-heads", paramLabel = "N", defaultValue = "2", description = "Key/value heads (default: ${DEFAULT-VALUE}).")
    int kvHeads;

    @Option(names = "--intermediate", paramLabel = "N", defaultValue = "128", description = "MLP intermediate size (default: ${DEFAULT-VALUE}).")
    int intermediate;

    @Option(names = "--vocab", paramLabel = "N", defaultValue = "256", description = "Vocabulary size (default: ${DEFAULT-VALUE}, bytes).")
    int vocab;

    @Option(names = "--head-dim", paramLabel = "N", description = "Head dimension (default: hidden / heads).")
    Integer headDim;

    @Option(names = "--tie-embeddings", description = "Tie lm_head to the embeddings (no lm_head.weight is written).")
    boolean tieEmbeddings;

    @Option(names = "--attention-bias", description = "Add q/k/v/o biases (llama, qwen3; qwen2 always has q/k/v biases).")
    boolean attentionBias;

    @Option(names = "--sliding-window", paramLabel = "N",
            description = "Sliding attention window (mistral, qwen2); unset means full attention.")
    Integer slidingWindow;

    @Option(names = "--parallel-blocks", paramLabel = "NORMS",
            description = "Write a dense llama-shaped model with parallel blocks (x + attn(LN x) + ffn(LN x)) "
                    + "and NORMS (1 or 2) norms per block, in the native upcycle_moa format.")
    Integer parallelBlocks;

    @Option(names = "--dtype", completionCandidates = Candidates.Dtype.class, defaultValue = "f32", paramLabel = "f32|bf16|f16",
            description = "Weight dtype (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", defaultValue = "5GB", paramLabel = "SIZE",
            description = "Largest shard, e.g. 5GB, 500MB, 2GiB (default: ${DEFAULT-VALUE}).")
    String maxShardSize;

    @Override
    public Integer call() {
        FamilyRegistry registry = FamilyRegistry.builtIn();
        // Only the families synth can write are offered: the dense ones.
        java.util.List<String> dense = registry.dense().stream().map(Family::name).toList();
        Family fam = registry.find(family).orElseThrow(() -> new UpcycleException(ErrorKind.InvalidOption, "--family",
                "\"" + family + "\" is not one of " + String.join(", ", dense)
                        + dev.upcycle.error.Suggestions.didYouMean(family, dense)));
        if (fam.moe()) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--family",
                    family + " is a MoE family; synth writes dense checkpoints (" + String.join(", ", dense) + ")",
                    "synthesise a dense model, then upcycle it with 'upcycle convert'");
        }
        DType type = Options.writableDtype(dtype, "--dtype");
        long shardLimit = Options.size(maxShardSize);
        ModelConfig config = config(fam);
        try (OutputDirectory out = OutputDirectory.create(output.dir(), output.force())) {
            Synthesizer.write(config, type, seed, shardLimit, out.staging());
            new Provenance(VersionInfo.version(), "synth", optionsJson(type), List.of(),
                    Provenance.digestAll(out.staging()), null).write(out.staging());
            out.commit();
        }
        if (!output.quiet()) {
            output.out().println("wrote " + output.dir() + " (" + config.family().name() + (parallelBlocks == null ? "" : " with parallel blocks") + ", " + layers + " layers, hidden "
                    + hidden + ", " + type + ", seed " + seed + ")");
        }
        return 0;
    }

    private ModelConfig config(Family fam) {
        ModelConfig.Builder b = ModelConfig.builder(fam)
                .numHiddenLayers(layers).hiddenSize(hidden).numAttentionHeads(heads).numKeyValueHeads(kvHeads)
                .intermediateSize(intermediate).vocabSize(vocab).tieWordEmbeddings(tieEmbeddings)
                .headDim(headDim != null ? headDim : Options.divide(hidden, heads, "--hidden", "--heads"))
                .maxPositionEmbeddings(4096);
        if (attentionBias) {
            if (!fam.declares("attention_bias")) {
                throw new UpcycleException(ErrorKind.InvalidOption, "--attention-bias",
                        fam.name() + " has no attention_bias setting");
            }
            b.attentionBias(true);
        }
        if (slidingWindow != null) {
            if (!fam.declares("sliding_window")) {
                throw new UpcycleException(ErrorKind.InvalidOption, "--sliding-window",
                        fam.name() + " has no sliding window");
            }
            b.slidingWindow(slidingWindow);
            if (fam.declares("use_sliding_window")) {
                b.useSlidingWindow(true);
                b.maxWindowLayers(0);
            }
        } else if (fam.declares("sliding_window")) {
            b.slidingWindow(null);
        }
        return parallelBlocks == null ? b.build() : parallel(b.build());
    }

    private ModelConfig parallel(ModelConfig c) {
        if (!c.family().name().equals("llama")) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--parallel-blocks",
                    "parallel-block seeds are llama-shaped; use --family llama, not " + c.family().name());
        }
        if (parallelBlocks < 1 || parallelBlocks > 2) {
            throw new UpcycleException(ErrorKind.InvalidOption, "--parallel-blocks",
                    parallelBlocks + " norms per block: must be 1 or 2");
        }
        return Synthesizer.parallelBlocks(c, parallelBlocks);
    }

    /** The options for upcycle.json: as given, the dtype by its torch name. */
    private ObjectNode optionsJson(DType type) {
        return RecordedOptions.of(spec).resolved("dtype", type.torchName()).json();
    }
}
