package dev.upcycle.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The families the tool knows, immutable. Passed around explicitly (no static mutable
 * registry): tests and future extensions build their own with {@link #of(List)}.
 */
public final class FamilyRegistry {

    private static final String RESOURCE_DIR = "/dev/upcycle/families/";

    /** The name of the native family, the only one with attention experts and parallel blocks. */
    public static final String NATIVE_MOA = "upcycle_moa";

    /** Loaded on first use and shared: the instance is immutable, so sharing it is safe. */
    private static final class BuiltIn {
        static final FamilyRegistry INSTANCE = load();
    }

    private final Map<String, Family> byName;

    private FamilyRegistry(Map<String, Family> byName) {
        this.byName = byName;
    }

    /** The families shipped in {@code dev/upcycle/families/} (listed by its {@code index.json}). */
    public static FamilyRegistry builtIn() {
        return BuiltIn.INSTANCE;
    }

    /** A registry of the given families, in that order; names and model types must be unique. */
    public static FamilyRegistry of(List<Family> families) {
        Map<String, Family> map = new LinkedHashMap<>();
        for (Family f : families) {
            for (Family other : map.values()) {
                if (other.modelType().equals(f.modelType())) {
                    throw new IllegalArgumentException("model_type " + f.modelType() + " registered twice");
                }
            }
            if (map.put(f.name(), f) != null) {
                throw new IllegalArgumentException("family " + f.name() + " registered twice");
            }
        }
        return new FamilyRegistry(Collections.unmodifiableMap(map));
    }

    /** Reads one family file (the format of the built-in ones); for extensions and tests. */
    public static Family readFamily(InputStream json, String source) {
        return new FamilyLoader().read(json, source);
    }

    private static FamilyRegistry load() {
        FamilyLoader loader = new FamilyLoader();
        List<Family> families = new ArrayList<>();
        for (String name : loader.readIndex(open("index.json"), "index.json")) {
            try (InputStream in = open(name + ".json")) {
                families.add(loader.read(in, name + ".json"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return of(families);
    }

    private static InputStream open(String file) {
        InputStream in = FamilyRegistry.class.getResourceAsStream(RESOURCE_DIR + file);
        if (in == null) {
            throw new IllegalStateException("family resource " + RESOURCE_DIR + file + " missing from the build");
        }
        return in;
    }

    /** All families, in registration order. */
    public List<Family> all() {
        return List.copyOf(byName.values());
    }

    /** Dense (source) families. */
    public List<Family> dense() {
        return byName.values().stream().filter(f -> !f.moe()).toList();
    }

    /** MoE (target) families. */
    public List<Family> moe() {
        return byName.values().stream().filter(Family::moe).toList();
    }

    public Optional<Family> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * The family called {@code name} (as on the command line).
     *
     * @throws UpcycleException UnsupportedArchitecture listing the known names
     */
    public Family byName(String name) {
        return find(name).orElseThrow(() -> new UpcycleException(ErrorKind.UnsupportedArchitecture,
                "family " + name, "unknown family; supported: " + String.join(", ", byName.keySet())));
    }

    /** {@link #forConfig(JsonNode, String)} with {@code config.json} as the place named in errors. */
    public Family forConfig(JsonNode config) {
        return forConfig(config, "config.json");
    }

    /**
     * The family of a parsed {@code config.json}: by {@code model_type}, cross-checked with
     * {@code architectures[0]}.
     *
     * @throws UpcycleException InvalidConfig when either field is missing or mistyped;
     *                          UnsupportedArchitecture naming the model_type and the supported ones
     */
    public Family forConfig(JsonNode config, String where) {
        if (config == null || !config.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where, "config is not a JSON object");
        }
        JsonNode type = config.get("model_type");
        if (type == null || !type.isTextual()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where,
                    "model_type " + (type == null ? "is missing" : "must be a string"));
        }
        String architecture = firstArchitecture(config, where);
        Family family = byName.values().stream()
                .filter(f -> f.modelType().equals(type.textValue()))
                .findFirst()
                .orElseThrow(() -> new UpcycleException(ErrorKind.UnsupportedArchitecture, where,
                        "model_type \"" + type.textValue() + "\" is not supported; supported: " + supported()));
        if (!family.architecture().equals(architecture)) {
            throw new UpcycleException(ErrorKind.UnsupportedArchitecture, where,
                    "architectures[0] \"" + architecture + "\" does not match model_type \"" + type.textValue()
                            + "\" (expected \"" + family.architecture() + "\"); supported: " + supported());
        }
        return family;
    }

    private static String firstArchitecture(JsonNode config, String where) {
        JsonNode archs = config.get("architectures");
        if (archs == null || !archs.isArray() || archs.isEmpty() || !archs.get(0).isTextual()) {
            throw new UpcycleException(ErrorKind.InvalidConfig, where,
                    "architectures must be a non-empty list of strings");
        }
        return archs.get(0).textValue();
    }

    private String supported() {
        return String.join(", ", byName.values().stream()
                .map(f -> f.modelType() + " (" + f.architecture() + ")").toList());
    }
}
