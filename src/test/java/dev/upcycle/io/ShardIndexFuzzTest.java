package dev.upcycle.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.upcycle.error.UpcycleException;
import java.nio.file.Path;
import java.util.Map;

/** Fuzzes {@link ShardIndex#parse} (issue 9): success or UpcycleException, nothing else. */
class ShardIndexFuzzTest {
    private static final Path FILE = Path.of("fuzz", "model.safetensors.index.json");

    @FuzzTest
    void index(byte[] json) {
        ShardIndex index;
        try {
            index = ShardIndex.parse(json, FILE);
        } catch (UpcycleException expected) {
            return;
        }
        // An accepted index names only plain files in its own directory.
        for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
            String shard = e.getValue();
            Path resolved = FILE.getParent().resolve(shard).normalize();
            if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.contains("..")
                    || !FILE.getParent().equals(resolved.getParent())) {
                throw new AssertionError("accepted unsafe shard name " + shard);
            }
        }
        index.shardNames();
    }
}
