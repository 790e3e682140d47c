package dev.upcycle.model;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;

/**
 * Fuzzes {@link FamilyRegistry#forConfig} with any JSON value (issue 9). The recipe parser has
 * its own target, {@code dev.upcycle.recipe.RecipeParserFuzzTest}.
 */
class FamilyRegistryFuzzTest {
    private static final FamilyRegistry FAMILIES = FamilyRegistry.builtIn();
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build());

    @FuzzTest
    void forConfig(byte[] json) {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (IOException notJson) {
            return;
        }
        try {
            Family f = FAMILIES.forConfig(node);
            if (f == null) {
                throw new AssertionError("forConfig returned null");
            }
        } catch (UpcycleException expected) {
            // unsupported or malformed: the documented outcome
        }
    }
}
