package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Offline lookup of model ids ({@code ORG/NAME} or {@code ORG/NAME@REVISION}) in a Hugging Face
 * hub cache, laid out as the hub library writes it: {@code models--ORG--NAME/refs/REVISION}
 * holds a commit hash, whose files are in {@code models--ORG--NAME/snapshots/HASH/}. Nothing is
 * ever downloaded.
 *
 * @param root   the cache directory
 * @param source where the location came from (an environment variable or the default), for messages
 */
public record HubCache(Path root, String source) {
    private static final String SEGMENT = "[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?";
    private static final Pattern ID = Pattern.compile("(" + SEGMENT + ")/(" + SEGMENT + ")(?:@([A-Za-z0-9._/-]{1,255}))?");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    private static final String NO_DOWNLOAD = "upcycle never downloads: fetch the model elsewhere (e.g. "
            + "huggingface-cli download %s), then copy the cache here or pass the snapshot directory";

    /**
     * A model id.
     *
     * @param revision a branch, tag or commit hash; {@code main} when none was given
     */
    public record ModelId(String org, String name, String revision) {
        /** {@code ORG/NAME}, as the hub names the repository. */
        public String repo() {
            return org + "/" + name;
        }

        /** The repository's folder in the cache. */
        public String folder() {
            return "models--" + org + "--" + name;
        }
    }

    /**
     * {@code text} as a model id, or empty when it is not one. Names with {@code --} or {@code ..}
     * are not repository names (the hub forbids them), nor revisions with empty, {@code .} or
     * {@code ..} segments.
     */
    public static Optional<ModelId> parseId(String text) {
        Matcher m = ID.matcher(text);
        if (!m.matches()) {
            return Optional.empty();
        }
        String org = m.group(1);
        String name = m.group(2);
        String rev = m.group(3) == null ? "main" : m.group(3);
        if (org.contains("--") || org.contains("..") || name.contains("--") || name.contains("..")) {
            return Optional.empty();
        }
        for (String segment : rev.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                return Optional.empty();
            }
        }
        return Optional.of(new ModelId(org, name, rev));
    }

    /**
     * Where a command that takes a model directory reads: {@code given} itself when anything
     * exists there (a local path always wins over an id), else the cache snapshot of the model id
     * it spells, else {@code given} unchanged (the command then reports the missing path).
     *
     * @throws UpcycleException NoCheckpoint when {@code given} is a model id absent from the cache
     */
    public static Path modelPath(Path given, Map<String, String> env, Path home) {
        if (given == null || Files.exists(given, LinkOption.NOFOLLOW_LINKS) || given.isAbsolute()) {
            return given;
        }
        Optional<ModelId> id = parseId(given.toString());
        return id.isEmpty() ? given : locate(env, home).snapshot(id.get(), given);
    }

    /** {@code ORG/NAME} of a cache folder {@code models--ORG--NAME}. */
    static String repoIdOf(String folder) {
        String rest = folder.substring("models--".length());
        int cut = rest.indexOf("--");
        return cut < 0 ? rest : rest.substring(0, cut) + "/" + rest.substring(cut + 2);
    }

    /**
     * The cache the hub library would use: {@code $HF_HUB_CACHE}, else the older
     * {@code $HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub}, else
     * {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code HOME/.cache/huggingface/hub}. Empty
     * variables count as unset; a leading {@code ~} is the home directory.
     */
    public static HubCache locate(Map<String, String> env, Path home) {
        String hub = value(env, "HF_HUB_CACHE");
        if (hub != null) {
            return new HubCache(expand(hub, home), "$HF_HUB_CACHE");
        }
        String legacy = value(env, "HUGGINGFACE_HUB_CACHE");
        if (legacy != null) {
            return new HubCache(expand(legacy, home), "$HUGGINGFACE_HUB_CACHE");
        }
        String hfHome = value(env, "HF_HOME");
        if (hfHome != null) {
            return new HubCache(expand(hfHome, home).resolve("hub"), "$HF_HOME/hub");
        }
        String xdg = value(env, "XDG_CACHE_HOME");
        if (xdg != null) {
            return new HubCache(expand(xdg, home).resolve("huggingface").resolve("hub"),
                    "$XDG_CACHE_HOME/huggingface/hub");
        }
        return new HubCache(home.resolve(".cache").resolve("huggingface").resolve("hub"), "the default cache");
    }

    private static String value(Map<String, String> env, String name) {
        String v = env.get(name);
        return v == null || v.isEmpty() ? null : v;
    }

    private static Path expand(String path, Path home) {
        if (path.equals("~")) {
            return home;
        }
        return path.startsWith("~/") ? home.resolve(path.substring(2)) : Path.of(path);
    }

    /**
     * The snapshot directory of {@code id}: {@code refs/REVISION}'s commit, or REVISION itself
     * when it is a full commit hash.
     *
     * @param local the local path that was tried first, named in the message when nothing is found
     * @throws UpcycleException NoCheckpoint naming the places searched
     */
    public Path snapshot(ModelId id, Path local) {
        Path repo = root.resolve(id.folder());
        String searched = "no local path " + local + ", nor " + repo + " in the Hugging Face cache (" + source + ")";
        if (!Files.isDirectory(repo)) {
            throw notFound(id, searched);
        }
        String commit = commitOf(id, repo);
        if (commit == null) {
            throw notFound(id, searched.replace(" in the Hugging Face cache", " with refs/" + id.revision()
                    + " or that commit in the Hugging Face cache"));
        }
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        if (!Files.isDirectory(snapshot)) {
            throw notFound(id, "revision " + id.revision() + " is commit " + commit + ", but " + snapshot
                    + " does not exist (searched: " + searched + ")");
        }
        return snapshot;
    }

    /** The commit a revision names: the content of {@code refs/REVISION}, else the revision if it is a hash. */
    private static String commitOf(ModelId id, Path repo) {
        Path ref = repo.resolve("refs").resolve(id.revision());
        if (Files.isRegularFile(ref, LinkOption.NOFOLLOW_LINKS)) {
            String text;
            try (InputStream in = Files.newInputStream(ref, LinkOption.NOFOLLOW_LINKS)) {
                text = new String(in.readNBytes(256), StandardCharsets.US_ASCII).strip();
            } catch (IOException e) {
                throw new UpcycleException(ErrorKind.IoError, ref.toString(), "cannot read: " + e.getMessage());
            }
            if (!COMMIT.matcher(text).matches()) {
                throw new UpcycleException(ErrorKind.NoCheckpoint, ref.toString(),
                        "does not hold a commit hash (40 hex digits)", "the cache entry is damaged; download it again");
            }
            return text;
        }
        return COMMIT.matcher(id.revision()).matches() ? id.revision() : null;
    }

    private static UpcycleException notFound(ModelId id, String why) {
        String revision = id.revision().equals("main") ? "" : " --revision " + id.revision();
        return new UpcycleException(ErrorKind.NoCheckpoint, id.repo() + (id.revision().equals("main") ? "" : "@"
                + id.revision()), why, String.format(NO_DOWNLOAD, id.repo() + revision));
    }
}
