package dev.upcycle.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.upcycle.error.ExitCode;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.verify.Inspection;
import dev.upcycle.verify.Inspector;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code upcycle inspect}: what a checkpoint holds, read from headers and config only. */
@Command(name = "inspect", sortOptions = false, mixinStandardHelpOptions = true,
        description = "Show a checkpoint's family, architecture numbers, dtypes, tensor and parameter counts "
            + "(total and active per token), shards and sizes, MoE settings, and every integrity problem found "
            + "in its headers or between config and tensors. Reads headers only. Exits 3 when a problem is an error.",
        footerHeading = "%nExample:%n",
        footer = "  upcycle inspect test-fixtures/tiny-llama --json")
final class InspectCommand implements Callable<Integer>, KeyFigures {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "PATH",
            description = "A checkpoint directory, a single .safetensors file, a model.safetensors.index.json, or a model id "
                + "ORG/NAME[@REVISION] in the Hugging Face cache.")
    Path path;

    @Option(names = "--json", description = "Print one JSON document instead of a table.")
    boolean json;

    private Inspection report;

    @Override
    public Integer call() {
        report = new Inspector(FamilyRegistry.builtIn()).inspect(ModelArgs.dir(path));
        if (json) {
            ObjectNode doc = Json.document(!report.hasErrors(), InspectionJson.of(report));
            spec.commandLine().getOut().println(Json.pretty(doc));
        } else {
            spec.commandLine().getOut().print(InspectionTable.of(report));
        }
        return report.hasErrors() ? ExitCode.BAD_INPUT.code() : ExitCode.OK.code();
    }

    @Override
    public Map<String, String> keyFigures() {
        if (report == null) {
            return Map.of();
        }
        Map<String, String> m = new LinkedHashMap<>();
        m.put("params", String.format(Locale.ROOT, "%,d", report.parameters()));
        if (report.active() != report.parameters()) {
            m.put("active", String.format(Locale.ROOT, "%,d", report.active()));
        }
        m.put("problems", String.valueOf(report.problems().size()));
        return m;
    }
}
