package dev.upcycle.train;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code metrics.jsonl}: one JSON object per line, per step and per evaluation, appended and
 * flushed as the run goes (a crashed run keeps its lines). A resumed run starts the file over
 * from the checkpoint's lines.
 */
public final class MetricsFile {
    public static final String FILE_NAME = "metrics.jsonl";
    private final Path file;
    private final List<StepMetrics> all;

    private MetricsFile(Path file, List<StepMetrics> earlier) {
        this.file = file;
        this.all = new ArrayList<>(earlier);
    }

    public static MetricsFile start(Path runDir, List<StepMetrics> earlier) {
        MetricsFile f = new MetricsFile(runDir.resolve(FILE_NAME), earlier);
        StringBuilder b = new StringBuilder();
        earlier.forEach(m -> b.append(m.toJson()).append('\n'));
        f.write(b.toString(), StandardOpenOption.TRUNCATE_EXISTING);
        return f;
    }

    public void add(StepMetrics m) {
        all.add(m);
        write(m.toJson() + "\n", StandardOpenOption.APPEND);
    }

    private void write(String s, StandardOpenOption mode) {
        try {
            Files.writeString(file, s, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    mode);
        } catch (IOException e) {
            throw new UpcycleException(ErrorKind.IoError, file.toString(), "cannot write metrics: " + e.getMessage());
        }
    }

    public List<StepMetrics> all() {
        return List.copyOf(all);
    }

    public double lastLoss() {
        for (int i = all.size() - 1; i >= 0; i--) {
            if (!all.get(i).isEval()) {
                return all.get(i).loss();
            }
        }
        return Double.NaN;
    }

    public Double lastEval() {
        for (int i = all.size() - 1; i >= 0; i--) {
            if (all.get(i).isEval()) {
                return all.get(i).evalLoss();
            }
        }
        return null;
    }
}
