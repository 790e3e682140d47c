package dev.upcycle.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.hostile.HostileCorpus;
import dev.upcycle.io.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The describe step: what {@link ModelSource#open} finds, and that it throws only when there is nothing to describe. */
class ModelSourceTest {
    private static final Path TINY = Path.of("test-fixtures/tiny-llama");

    @Test
    void aGoodCheckpointHasItsConfigHeadersAndNoFindings() {
        try (ModelSource src = ModelSource.open(TINY, Fixtures.FAMILIES)) {
            ModelConfig config = src.config().orElseThrow();
            assertThat(config.family().name()).isEqualTo("llama");
            assertThat(src.headers()).containsKey("model.embed_tokens.weight")
                    .hasSize(src.checkpoint().tensors().size());
            assertThat(src.description().orElseThrow().expected()).hasSize(src.headers().size());
            assertThat(src.findings()).isEmpty();
            assertThat(src.configFindings()).isEmpty();
            assertThat(src.sideFileProblem()).isEmpty();
            assertThat(src.tiedHeadMismatch()).isEmpty();
            assertThat(src.requireConfig()).isSameAs(config);
            src.throwIfInvalid();
        }
    }

    @Test
    void aConfigThatDisagreesWithTheTensorsIsAFindingNotAnError(@TempDir Path tmp) {
        Path ckpt = HostileCorpus.build(HostileCorpus.byId("t31-missing-layer-tensor"), tmp);
        try (ModelSource src = ModelSource.open(ckpt, Fixtures.FAMILIES)) {
            assertThat(src.config()).isPresent();
            assertThat(src.findings()).singleElement().satisfies(f -> {
                assertThat(f.isError()).isTrue();
                assertThat(f.kind()).isEqualTo(ErrorKind.MissingTensor);
                assertThat(f.tensor()).isEqualTo("model.layers.1.mlp.down_proj.weight");
            });
            assertThat(src.configFindings()).isEqualTo(src.findings());
            assertThatThrownBy(src::throwIfInvalid).isInstanceOfSatisfying(UpcycleException.class, e -> {
                assertThat(e.kind()).isEqualTo(ErrorKind.MissingTensor);
                assertThat(e.where()).isEqualTo("tensor model.layers.1.mlp.down_proj.weight");
            });
        }
    }

    @Test
    void aTiedHeadThatDiffersIsTheOneFindingThatReadsData(@TempDir Path tmp) {
        Path ckpt = HostileCorpus.build(HostileCorpus.byId("t37-tied-head-differs"), tmp);
        try (ModelSource src = ModelSource.open(ckpt, Fixtures.FAMILIES)) {
            Finding tied = src.tiedHeadMismatch().orElseThrow();
            assertThat(tied.kind()).isEqualTo(ErrorKind.ConfigConflict);
            assertThat(tied.message()).isEqualTo(
                    "tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight");
            assertThat(src.configFindings()).last().isEqualTo(tied);
            assertThat(src.findings()).contains(tied);
            src.throwIfInvalid(); // headers agree: only the bytes differ
        }
    }

    @Test
    void aMissingConfigIsAFindingForADirectoryAndAnErrorForWhoNeedsIt(@TempDir Path tmp) {
        Path ckpt = HostileCorpus.build(HostileCorpus.byId("c28-config-missing"), tmp);
        try (ModelSource src = ModelSource.open(ckpt, Fixtures.FAMILIES)) {
            assertThat(src.config()).isEmpty();
            assertThat(src.description()).isEmpty();
            assertThat(src.configFindings()).isEmpty();
            assertThat(src.findings()).singleElement().satisfies(f -> {
                assertThat(f.kind()).isEqualTo(ErrorKind.InvalidConfig);
                assertThat(f.message()).isEqualTo("no config.json beside the weights; "
                        + "nothing can load this checkpoint without it");
            });
            assertThatThrownBy(src::requireConfig).isInstanceOfSatisfying(UpcycleException.class, e -> {
                assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig);
                assertThat(e.where()).isEqualTo(ckpt.toString());
                assertThat(e.why()).isEqualTo("no config.json beside the weights");
            });
            assertThatThrownBy(src::throwIfInvalid).isInstanceOf(UpcycleException.class);
        }
        // A lone weights file is complete without a config.
        try (ModelSource src = ModelSource.open(ckpt.resolve("model.safetensors"), Fixtures.FAMILIES)) {
            assertThat(src.config()).isEmpty();
            assertThat(src.findings()).isEmpty();
        }
    }

    @Test
    void aSideFileLinkedOutsideIsAFindingThatKeepsItsError(@TempDir Path tmp) throws IOException {
        Path ckpt = Files.createDirectories(tmp.resolve("ckpt"));
        for (String name : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(TINY.resolve(name), ckpt.resolve(name));
        }
        Path outside = Files.writeString(tmp.resolve("tokenizer.json"), "{}");
        Files.createSymbolicLink(ckpt.resolve("tokenizer.json"), outside);
        try (ModelSource src = ModelSource.open(ckpt, Fixtures.FAMILIES)) {
            UpcycleException e = src.sideFileProblem().orElseThrow();
            assertThat(e.kind()).isEqualTo(ErrorKind.UnsafePath);
            assertThat(src.findings()).singleElement().satisfies(f -> {
                assertThat(f.kind()).isEqualTo(ErrorKind.UnsafePath);
                assertThat(f.tensor()).isNull();
                assertThat(f.message()).isEqualTo(e.where() + ": " + e.why());
            });
            assertThat(src.configFindings()).isEmpty();
        }
    }

    @Test
    void anUnreadableConfigStopsTheOpening(@TempDir Path tmp) throws IOException {
        Path ckpt = HostileCorpus.build(HostileCorpus.byId("c28-config-not-json"), tmp);
        assertThat(Files.exists(ckpt.resolve("config.json"))).isTrue();
        assertThatThrownBy(() -> ModelSource.open(ckpt, Fixtures.FAMILIES))
                .isInstanceOfSatisfying(UpcycleException.class,
                        e -> assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig));
        // verify opens the checkpoint itself and reports the config error as a failed check.
        try (Checkpoint opened = Checkpoint.open(ckpt)) {
            ModelSource src = ModelSource.of(opened, Fixtures.FAMILIES);
            assertThat(src.configError()).get().satisfies(e -> {
                assertThat(e.kind()).isEqualTo(ErrorKind.InvalidConfig);
                assertThat(e.why()).startsWith("not valid JSON");
            });
            assertThat(src.config()).isEmpty();
            assertThat(src.findings()).as("an unreadable config is not a missing one").isEmpty();
        }
    }
}
