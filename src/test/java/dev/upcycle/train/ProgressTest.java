package dev.upcycle.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What train prints while it runs: rates that agree, an ETA only once it means something, no empty router columns. */
class ProgressTest {

    private static StepMetrics step(int n, double tokensPerSecond) {
        return new StepMetrics(n, 1e-3, 2.5, 0.01, 0.002, 0.9, tokensPerSecond, Map.of(), null);
    }

    /** Steps of 100 tokens: the first takes 1 s (warm-up), every later one 0.1 s. */
    private static String run(boolean terminal, boolean routed, int steps, int every, Progress[] keep) {
        StringWriter s = new StringWriter();
        Progress p = new Progress(new PrintWriter(s, true), terminal, every, steps, routed);
        for (int i = 1; i <= steps; i++) {
            double seconds = i == 1 ? 1.0 : 0.1;
            p.step(step(i, 100 / seconds), seconds, 100);
        }
        keep[0] = p;
        return s.toString();
    }

    @Test
    void theRateLeavesOutTheWarmUpStepAndTheBarAndTheDoneLineAgree() {
        Progress[] p = new Progress[1];
        String bar = run(true, true, 10, 100, p);
        assertThat(p[0].tokensPerSecond()).isEqualTo(1000.0, org.assertj.core.data.Offset.offset(1e-6));
        // The bar's last rate is the mean that train's "done" line and --json report.
        String last = bar.substring(bar.lastIndexOf('\r'));
        assertThat(last).contains("1000 tok/s");
    }

    @Test
    void noEtaUntilAFewStepsAreTimed() {
        List<String> lines = run(false, true, 6, 1, new Progress[1]).lines().toList();
        assertThat(lines).hasSize(6);
        // Steps 1-3: the warm-up step and two timed ones are too few for an estimate.
        assertThat(lines.subList(0, Progress.SETTLED)).allMatch(l -> l.endsWith("ETA ?"));
        // Step 4: three timed steps of 0.1 s, two steps left: 0.2 s.
        assertThat(lines.get(3)).endsWith("ETA 0m00s");
    }

    @Test
    void denseRunsPrintNoRouterLosses() {
        assertThat(run(false, false, 4, 2, new Progress[1])).doesNotContain("aux").doesNotContain(" z ").contains("loss 2.5000");
        assertThat(run(false, true, 4, 2, new Progress[1])).contains("aux 0.01").contains("z 0.002");
    }

    @Test
    void onATerminalALossLineStaysEveryNSteps() {
        String out = run(true, false, 10, 4, new Progress[1]);
        // Lines that end with a newline survive the bar's carriage returns: steps 4 and 8.
        List<String> kept = out.lines().map(l -> l.substring(l.lastIndexOf('\r') + 1)).filter(l -> l.startsWith("step "))
                .toList();
        assertThat(kept).hasSize(2);
        assertThat(kept.get(0)).startsWith("step 4/10  lr").contains("loss 2.5000");
        assertThat(kept.get(1)).startsWith("step 8/10");
    }

    @Test
    void theDeviceIsNamedForUsers() {
        assertThat(TrainLoop.deviceName(Device.cpu())).isEqualTo("cpu");
        assertThat(TrainLoop.deviceName(Device.gpu(1))).isEqualTo("gpu 1");
    }
}
