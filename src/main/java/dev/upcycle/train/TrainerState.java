package dev.upcycle.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.ModelFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code trainer-state.json} of a checkpoint: the optimizer steps done, the data stream's position
 * and seed (the data order is the only randomness of a run: no dropout, no gating noise), the
 * tokens seen, and every metrics line so far, so a resumed run rewrites {@code metrics.jsonl}
 * and continues it.
 */
public record TrainerState(int step, long seed, long dataPosition, long tokensSeen, List<StepMetrics> metrics) {
    public static final String FILE_NAME = "trainer-state.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    public TrainerState {
        metrics = List.copyOf(metrics);
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("step", step);
        o.put("data_position", dataPosition);
        ObjectNode rng = o.putObject("rng");
        rng.put("algorithm", "splitmix64(seed, window index); the data order is the only randomness");
        rng.put("seed", seed);
        rng.put("position", dataPosition);
        o.put("tokens_seen", tokensSeen);
        ArrayNode m = o.putArray("metrics");
        metrics.forEach(s -> m.add(s.toJson()));
        return o;
    }

    public static TrainerState read(Path dir) {
        Path file = ModelFiles.of(dir).optional(FILE_NAME).orElseThrow(() -> new UpcycleException(
                ErrorKind.InvalidConfig, dir.resolve(FILE_NAME).toString(), "no trainer state",
                "--resume takes a checkpoints/step-N directory of a train run"));
        JsonNode o;
        try {
            o = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read the trainer state: "
                    + e.getMessage(), "--resume takes a checkpoints/step-N directory of a train run");
        }
        if (o == null || !o.has("step") || !o.has("data_position")) {
            throw new UpcycleException(ErrorKind.InvalidConfig, file.toString(), "not a trainer state");
        }
        List<StepMetrics> metrics = new ArrayList<>();
        o.path("metrics").forEach(n -> metrics.add(StepMetrics.fromJson(n)));
        return new TrainerState(o.get("step").asInt(), o.path("rng").path("seed").asLong(),
                o.get("data_position").asLong(), o.path("tokens_seen").asLong(), metrics);
    }
}
