package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model ids resolved offline in the hub cache the environment names, as the hub library lays it out. */
class HubCacheTest {
    @TempDir
    Path tmp;

    private Path model() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("model"));
        Files.writeString(d.resolve("config.json"), "{}");
        return d;
    }

    @Test
    void theCacheComesFromTheVariablesInTheHubLibrarysOrder() {
        Path home = tmp.resolve("home");
        assertThat(HubCache.locate(Map.of(), home).root()).isEqualTo(home.resolve(".cache/huggingface/hub"));
        assertThat(HubCache.locate(Map.of("XDG_CACHE_HOME", "/x"), home).root()).isEqualTo(Path.of("/x/huggingface/hub"));
        assertThat(HubCache.locate(Map.of("XDG_CACHE_HOME", "/x", "HF_HOME", "/h"), home).root())
                .isEqualTo(Path.of("/h/hub"));
        assertThat(HubCache.locate(Map.of("HF_HOME", "/h", "HUGGINGFACE_HUB_CACHE", "/old"), home).root())
                .isEqualTo(Path.of("/old"));
        HubCache hub = HubCache.locate(Map.of("HF_HOME", "/h", "HUGGINGFACE_HUB_CACHE", "/old", "HF_HUB_CACHE", "/c"), home);
        assertThat(hub.root()).isEqualTo(Path.of("/c"));
        assertThat(hub.source()).isEqualTo("$HF_HUB_CACHE");
        // Empty means unset; ~ is the home directory.
        assertThat(HubCache.locate(Map.of("HF_HUB_CACHE", "", "HF_HOME", "~/hf"), home).root())
                .isEqualTo(home.resolve("hf/hub"));
    }

    @Test
    void idsAreOrgSlashNameWithAnOptionalRevision() {
        assertThat(HubCache.parseId("Qwen/Qwen3-0.6B")).contains(new HubCache.ModelId("Qwen", "Qwen3-0.6B", "main"));
        assertThat(HubCache.parseId("meta-llama/Llama-3.2-1B@v1.0"))
                .contains(new HubCache.ModelId("meta-llama", "Llama-3.2-1B", "v1.0"));
        assertThat(HubCache.parseId("org/name@refs/pr/1")).contains(new HubCache.ModelId("org", "name", "refs/pr/1"));
        for (String notAnId : new String[] {"name", "a/b/c", "/abs/path", "./org/name", "../org/name", "org/..",
                "org/na--me", "org/name@", "org/name@../../x", "org/name@a//b", "org/.hidden", "org/name@/x"}) {
            assertThat(HubCache.parseId(notAnId)).as(notAnId).isEmpty();
        }
    }

    @Test
    void refsMainAnotherRevisionAndACommitHashAllFindTheirSnapshot() throws IOException {
        Path cache = tmp.resolve("hub");
        String first = HubFixture.commit("first");
        String second = HubFixture.commit("second");
        Path main = HubFixture.snapshot(cache, "org/tiny", "main", first, model());
        Path v2 = HubFixture.snapshot(cache, "org/tiny", "v2", second, model());
        Map<String, String> env = Map.of("HF_HUB_CACHE", cache.toString());
        Path home = tmp.resolve("home");
        assertThat(HubCache.modelPath(Path.of("org/tiny"), env, home)).isEqualTo(main);
        assertThat(HubCache.modelPath(Path.of("org/tiny@main"), env, home)).isEqualTo(main);
        assertThat(HubCache.modelPath(Path.of("org/tiny@v2"), env, home)).isEqualTo(v2);
        assertThat(HubCache.modelPath(Path.of("org/tiny@" + second), env, home)).isEqualTo(v2);
        // The same through HF_HOME and the default location.
        Path hfHome = tmp.resolve("hf-home");
        Path viaHome = HubFixture.snapshot(hfHome.resolve("hub"), "org/tiny", model());
        assertThat(HubCache.modelPath(Path.of("org/tiny"), Map.of("HF_HOME", hfHome.toString()), home)).isEqualTo(viaHome);
        Path viaDefault = HubFixture.snapshot(home.resolve(".cache/huggingface/hub"), "org/tiny", model());
        assertThat(HubCache.modelPath(Path.of("org/tiny"), Map.of(), home)).isEqualTo(viaDefault);
        // Not an id, or an absolute path: left as given for the command to report.
        assertThat(HubCache.modelPath(Path.of("not-an-id"), env, home)).isEqualTo(Path.of("not-an-id"));
        assertThat(HubCache.modelPath(tmp.resolve("org/tiny"), env, home)).isEqualTo(tmp.resolve("org/tiny"));
    }

    @Test
    void aMissingIdNamesThePlacesSearchedAndSaysNothingIsDownloaded() throws IOException {
        Path cache = tmp.resolve("hub");
        HubFixture.snapshot(cache, "org/tiny", model());
        Map<String, String> env = Map.of("HF_HUB_CACHE", cache.toString());
        assertThatThrownBy(() -> HubCache.modelPath(Path.of("org/absent"), env, tmp))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.NoCheckpoint);
                    assertThat(e.exitCode().code()).isEqualTo(3);
                    assertThat(e.where()).isEqualTo("org/absent");
                    assertThat(e.why()).contains("no local path org/absent")
                            .contains(cache.resolve("models--org--absent").toString()).contains("$HF_HUB_CACHE");
                    assertThat(e.hint()).contains("never downloads").contains("huggingface-cli download org/absent");
                });
        assertThatThrownBy(() -> HubCache.modelPath(Path.of("org/tiny@v9"), env, tmp))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.NoCheckpoint);
                    assertThat(e.where()).isEqualTo("org/tiny@v9");
                    assertThat(e.why()).contains("refs/v9").contains(cache.resolve("models--org--tiny").toString());
                });
        // refs/main names a commit whose snapshot is gone.
        Files.writeString(cache.resolve("models--org--tiny/refs/main"), HubFixture.commit("gone"));
        assertThatThrownBy(() -> HubCache.modelPath(Path.of("org/tiny"), env, tmp))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.NoCheckpoint);
                    assertThat(e.why()).contains(HubFixture.commit("gone")).contains("does not exist");
                });
        // A damaged ref is not followed anywhere.
        Files.writeString(cache.resolve("models--org--tiny/refs/main"), "../../../../etc");
        assertThatThrownBy(() -> HubCache.modelPath(Path.of("org/tiny"), env, tmp))
                .isInstanceOfSatisfying(UpcycleException.class, e -> {
                    assertThat(e.kind()).isEqualTo(ErrorKind.NoCheckpoint);
                    assertThat(e.why()).contains("commit hash");
                });
    }
}
