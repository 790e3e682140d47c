package dev.upcycle.model;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.Checkpoint;
import dev.upcycle.io.TensorBytes;
import dev.upcycle.io.TensorHeader;
import dev.upcycle.io.TensorRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The describe step every command that reads a checkpoint shares: open it with io's reader, read
 * and validate its {@code config.json}, check the tensors against the config (including the tied
 * {@code lm_head} bytes) and collect what was found. Opening throws only when there is nothing to
 * describe (no readable checkpoint, a config that cannot be read); every disagreement is a
 * {@link Finding}, and each command decides which findings stop it.
 */
public final class ModelSource implements AutoCloseable {
    /** What a checkpoint directory without {@code config.json} is told, by every command. */
    public static final String NO_CONFIG = "no config.json beside the weights";
    /** Why a missing config matters (the hint of the error, the tail of the finding). */
    public static final String NO_CONFIG_WHY = "nothing can load this checkpoint without it";

    private final Path path;
    private final Checkpoint checkpoint;
    private final ModelConfig config;
    private final UpcycleException configError;
    private final ModelDescription description;
    private final Map<String, TensorHeader> headers;
    private final UpcycleException sideFileProblem;
    private final Finding tiedHeadMismatch;
    private final List<Finding> configFindings;
    private final List<Finding> findings;

    private ModelSource(Path path, Checkpoint checkpoint, boolean directory, FamilyRegistry registry) {
        this.path = path;
        this.checkpoint = checkpoint;
        Map<String, TensorHeader> found = new LinkedHashMap<>();
        for (TensorRef ref : checkpoint.tensors().values()) {
            found.put(ref.name(), ref.header());
        }
        this.headers = Collections.unmodifiableMap(found);
        ModelConfig read = null;
        UpcycleException error = null;
        if (checkpoint.configFile().isPresent()) {
            try {
                read = ModelConfig.read(checkpoint.configFile().get(), registry);
            } catch (UpcycleException e) {
                error = e;
            }
        }
        this.config = read;
        this.configError = error;
        List<Finding> out = new ArrayList<>();
        // Findings about the files rather than the config name no tensor (null).
        for (String w : checkpoint.warnings()) {
            out.add(new Finding(Severity.WARNING, ErrorKind.AmbiguousCheckpoint, null, w));
        }
        this.sideFileProblem = sideFileProblem(checkpoint);
        if (sideFileProblem != null) {
            out.add(new Finding(Severity.ERROR, sideFileProblem.kind(), null,
                    sideFileProblem.where() + ": " + sideFileProblem.why()));
        }
        if (config == null) {
            this.description = null;
            this.tiedHeadMismatch = null;
            this.configFindings = List.of();
            // A lone .safetensors file needs no config; a checkpoint directory does.
            if (directory && configError == null) {
                out.add(new Finding(Severity.ERROR, ErrorKind.InvalidConfig, "", NO_CONFIG + "; " + NO_CONFIG_WHY));
            }
        } else {
            this.description = ModelDescription.of(config.family(), config, found);
            this.tiedHeadMismatch = tiedHeadMismatch(checkpoint, description);
            List<Finding> agree = new ArrayList<>(description.check());
            if (tiedHeadMismatch != null) {
                agree.add(tiedHeadMismatch);
            }
            this.configFindings = List.copyOf(agree);
            out.addAll(configFindings);
        }
        this.findings = List.copyOf(out);
    }

    /**
     * Opens and describes the checkpoint at {@code path} (a directory, a {@code .safetensors} file
     * or an index file).
     *
     * @throws UpcycleException any reader error of {@link Checkpoint#open}, any error reading
     *                          {@code config.json} when there is one
     */
    public static ModelSource open(Path path, FamilyRegistry registry) {
        Checkpoint ckpt = Checkpoint.open(path);
        try {
            ModelSource src = new ModelSource(path, ckpt, Files.isDirectory(path), registry);
            if (src.configError != null) {
                throw src.configError;
            }
            return src;
        } catch (RuntimeException e) {
            try {
                ckpt.close();
            } catch (RuntimeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    /**
     * Describes a checkpoint directory the caller has already opened, to report reader and config
     * errors its own way: a config that cannot be read is {@link #configError()}, not thrown.
     * Closing the result closes {@code checkpoint}.
     */
    public static ModelSource of(Checkpoint checkpoint, FamilyRegistry registry) {
        return new ModelSource(checkpoint.directory(), checkpoint, true, registry);
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    /** The tensor headers by name, in the order the reader lists them. */
    public Map<String, TensorHeader> headers() {
        return headers;
    }

    /** Why {@code config.json} could not be read (only from {@link #of}, which does not throw it). */
    public Optional<UpcycleException> configError() {
        return Optional.ofNullable(configError);
    }

    /** The validated config; empty when there is no {@code config.json} or it could not be read. */
    public Optional<ModelConfig> config() {
        return Optional.ofNullable(config);
    }

    /** Family, config and headers together; empty when there is no {@code config.json}. */
    public Optional<ModelDescription> description() {
        return Optional.ofNullable(description);
    }

    /**
     * Every finding: the reader's warnings, a side file that breaks the link rule, then a missing
     * config or the config's findings ({@link #configFindings()}).
     */
    public List<Finding> findings() {
        return findings;
    }

    /**
     * How config and tensors agree: {@link ModelDescription#check()} then a tied {@code lm_head}
     * that differs from the embedding. Empty without a config.
     */
    public List<Finding> configFindings() {
        return configFindings;
    }

    /** The config, which a command that loads the weights needs. @throws UpcycleException InvalidConfig */
    public ModelConfig requireConfig() {
        if (config == null) {
            throw new UpcycleException(ErrorKind.InvalidConfig, path.toString(), NO_CONFIG,
                    NO_CONFIG_WHY);
        }
        return config;
    }

    /**
     * Throws when there is no config, else the first error of {@link ModelDescription#check()}
     * (see {@link ModelDescription#throwIfInvalid()}); quiet when there are only warnings.
     */
    public void throwIfInvalid() {
        requireConfig();
        description.throwIfInvalid();
    }

    /**
     * A side file (tokenizer, generation config, ...) that breaks the link rule: convert, which
     * copies them, stops on it; inspect lists it among {@link #findings()}.
     */
    public Optional<UpcycleException> sideFileProblem() {
        return Optional.ofNullable(sideFileProblem);
    }

    /** The error finding when {@code tie_word_embeddings} holds but the stored {@code lm_head} differs. */
    public Optional<Finding> tiedHeadMismatch() {
        return Optional.ofNullable(tiedHeadMismatch);
    }

    private static UpcycleException sideFileProblem(Checkpoint checkpoint) {
        try {
            checkpoint.modelFiles().sideFiles();
            return null;
        } catch (UpcycleException e) {
            return e;
        }
    }

    /** The one check that reads data: tied embeddings must be byte-identical. */
    private static Finding tiedHeadMismatch(Checkpoint checkpoint, ModelDescription description) {
        if (!description.tiedHeadNeedsByteCheck()) {
            return null;
        }
        Family family = description.family();
        String head = family.tensorName(TensorRole.LM_HEAD);
        String embed = family.tensorName(TensorRole.EMBED);
        if (TensorBytes.equal(checkpoint.tensor(head), checkpoint.tensor(embed))) {
            return null;
        }
        return new Finding(Severity.ERROR, ErrorKind.ConfigConflict, head,
                "tie_word_embeddings is true but " + head + " differs from " + embed);
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
