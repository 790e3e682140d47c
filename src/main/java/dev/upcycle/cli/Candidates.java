package dev.upcycle.cli;

import dev.upcycle.model.Family;
import dev.upcycle.model.FamilyRegistry;
import dev.upcycle.moe.RouterInit;
import dev.upcycle.moe.RoutingMode;
import dev.upcycle.moe.ScalingMode;
import dev.upcycle.moe.SharedExpertMode;
import dev.upcycle.plan.target.MoeTarget;
import dev.upcycle.plan.target.MoeTargets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * The values of options that take one of a fixed set, for picocli's shell completion
 * ({@code completionCandidates}): the generated script offers them after the option. Each list
 * comes from the same place the option's parser reads, so the two cannot drift apart.
 */
final class Candidates {
    private Candidates() {
    }

    static final class Routing implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(RoutingMode.values()).map(RoutingMode::cliName).iterator();
        }
    }

    static final class Scaling implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(ScalingMode.values()).map(ScalingMode::cliName).iterator();
        }
    }

    static final class Router implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(RouterInit.values()).map(RouterInit::cliName).iterator();
        }
    }

    static final class AttentionRouter implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("random", "zero").iterator();
        }
    }

    static final class SharedMode implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(SharedExpertMode.values()).map(SharedExpertMode::cliName).iterator();
        }
    }

    static final class Target implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            List<String> names = new ArrayList<>(List.of(MoeTargets.AUTO));
            MoeTargets.all().stream().map(MoeTarget::cliName).forEach(names::add);
            names.add(MoeTargets.NATIVE.cliName());
            return names.iterator();
        }
    }

    static final class Attention implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("keep", "moa-separate", "moa-shared-kv").iterator();
        }
    }

    static final class BlockLayout implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("seed", "sequential", "parallel").iterator();
        }
    }

    /** convert's {@code --dtype}: keep, or a writable dtype. */
    static final class ConvertDtype implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("keep", "f32", "bf16", "f16").iterator();
        }
    }

    static final class Dtype implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("f32", "bf16", "f16").iterator();
        }
    }

    /** The families synth writes: the dense ones. */
    static final class DenseFamily implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return FamilyRegistry.builtIn().dense().stream().map(Family::name).iterator();
        }
    }

    static final class Device implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("auto", "cpu", "gpu").iterator();
        }
    }

    static final class Schedule implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("cosine", "constant").iterator();
        }
    }
}
