package dev.upcycle.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import dev.upcycle.io.ModelFiles;
import dev.upcycle.io.JsonErrors;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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

    /**
     * Reads and checks a checkpoint's state like any other input: every field present, of its type
     * and in range (a step that does not fit an int, a negative data position, a non-finite metric
     * are each named), so a tampered file stops the run before anything is trained or written.
     */
    public static TrainerState read(Path dir) {
        Path file = ModelFiles.of(dir).optional(FILE_NAME).orElseThrow(() -> new UpcycleException(
                ErrorKind.InvalidConfig, dir.resolve(FILE_NAME).toString(), "no trainer state",
                "--resume takes a checkpoints/step-N directory of a train run"));
        JsonNode o;
        try {
            o = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new UpcycleException(ErrorKind.InvalidRunState, file.toString(), "not valid JSON: "
                    + JsonErrors.describe(e));
        } catch (CharacterCodingException e) {
            throw new UpcycleException(ErrorKind.InvalidRunState, file.toString(), "not UTF-8 text");
        } catch (NoSuchFileException e) {
            throw new UpcycleException(ErrorKind.InvalidRunState, file.toString(), "no trainer state",
                    "--resume takes a checkpoints/step-N directory of a train run");
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot read the trainer state: "
                    + e.getMessage());
        }
        StateFields f = new StateFields(file.toString());
        int step = (int) f.integer(o, "step", 1, Integer.MAX_VALUE);
        long position = f.integer(o, "data_position", 0, Long.MAX_VALUE);
        long seed = new StateFields(file + " (rng)").integer(f.required(o, "rng"), "seed", Long.MIN_VALUE,
                Long.MAX_VALUE);
        long tokens = f.integer(o, "tokens_seen", 0, Long.MAX_VALUE);
        JsonNode lines = f.required(o, "metrics");
        if (!lines.isArray()) {
            throw f.bad("metrics", "must be a list of metrics lines");
        }
        List<StepMetrics> metrics = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            StepMetrics m = StepMetrics.fromJson(lines.get(i), new StateFields(file + " (metrics[" + i + "])"));
            if (m.step() > step) {
                throw new UpcycleException(ErrorKind.InvalidRunState, file + " (metrics[" + i + "])",
                        "field 'step' " + m.step() + " lies beyond the state's step " + step);
            }
            metrics.add(m);
        }
        return new TrainerState(step, seed, position, tokens, metrics);
    }
}
