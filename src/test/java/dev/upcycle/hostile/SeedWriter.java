package dev.upcycle.hostile;

import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Writes the fuzz seed corpora from the hostile corpus and from valid synth models:
 * {@code java -cp ... dev.upcycle.hostile.SeedWriter src/test/resources}. Only small files
 * (up to 32 KiB) are kept, so the seeds stay well under 1 MB. Crashing inputs found by
 * scripts/fuzz are added to the same directories by hand, under a name that says what broke.
 */
public final class SeedWriter {
    static final int MAX_SEED = 32 << 10;

    private SeedWriter() {
    }

    public static void main(String[] args) throws IOException {
        Path resources = Path.of(args.length > 0 ? args[0] : "src/test/resources");
        Path header = dir(resources, "io/SafetensorsHeaderFuzzTestInputs/header");
        Path index = dir(resources, "io/ShardIndexFuzzTestInputs/index");
        Path config = dir(resources, "model/ModelConfigFuzzTestInputs/config");
        Path family = dir(resources, "model/FamilyRegistryFuzzTestInputs/forConfig");
        Path tmp = Files.createTempDirectory("upcycle-seeds");
        try {
            for (HostileCorpus.Case c : HostileCorpus.all()) {
                Path ckpt = HostileCorpus.build(c, tmp.resolve(c.id()));
                if (c.id().startsWith("h") || c.id().startsWith("ok-zero") || c.id().startsWith("ok-empty")) {
                    copy(ckpt.resolve(HostileCorpus.ST), header.resolve(c.id()));
                }
                if (c.id().startsWith("i2")) {
                    copy(ckpt.resolve(HostileCorpus.INDEX), index.resolve(c.id()));
                }
                if (c.id().startsWith("c")) {
                    copy(ckpt.resolve("config.json"), config.resolve(c.id()));
                    copy(ckpt.resolve("config.json"), family.resolve(c.id()));
                }
            }
            copy(HostileCorpus.Base.single().resolve(HostileCorpus.ST), header.resolve("valid-llama"));
            copy(HostileCorpus.Base.sharded().resolve(HostileCorpus.INDEX), index.resolve("valid-sharded"));
            for (String fam : new String[] {"llama", "mistral", "qwen2", "qwen3"}) {
                Path d = tmp.resolve("synth-" + fam);
                int code = Cli.run("synth",
                        "--family", fam, "-o", d.toString(), "--layers", "1", "--hidden", "8", "--heads", "2",
                        "--kv-heads", "1", "--intermediate", "8", "--vocab", "16", "--quiet").code();
                if (code != 0) {
                    throw new IllegalStateException("synth " + fam + " exited " + code);
                }
                copy(d.resolve("config.json"), config.resolve("valid-" + fam));
                copy(d.resolve("config.json"), family.resolve("valid-" + fam));
            }
        } finally {
            HostileCorpus.deleteTree(tmp);
        }
    }

    private static Path dir(Path resources, String sub) throws IOException {
        return Files.createDirectories(resources.resolve("dev/upcycle").resolve(sub));
    }

    private static void copy(Path from, Path to) throws IOException {
        if (Files.isRegularFile(from, LinkOption.NOFOLLOW_LINKS) && Files.size(from) <= MAX_SEED) {
            Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
