package dev.upcycle.model;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.upcycle.error.UpcycleException;
import java.util.Map;

/**
 * Fuzzes config.json parsing (issue 9) and what inspect derives from an accepted config (the
 * expected tensors and parameter counts): success or UpcycleException, nothing else.
 */
class ModelConfigFuzzTest {
    private static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();

    @FuzzTest
    void config(byte[] json) {
        ModelConfig c;
        try {
            c = ConfigParser.parse(json, FAMILIES, "config.json");
        } catch (UpcycleException expected) {
            return;
        }
        ModelDescription d = ModelDescription.of(c.family(), c, Map.of());
        if (d.totalParameters() < 0 || d.activeParameters() < 0 || d.activeParameters() > d.totalParameters()) {
            throw new AssertionError("parameter counts " + d.totalParameters() + " / " + d.activeParameters());
        }
        d.check();
        // The writer must accept what the reader accepted.
        ConfigWriter.toJson(c);
    }
}
