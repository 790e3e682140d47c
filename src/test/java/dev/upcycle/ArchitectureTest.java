package dev.upcycle;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.equivalentTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideOutsideOfPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import dev.upcycle.runtime.CausalLm;
import dev.upcycle.runtime.Djl;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

/**
 * The import rules between the packages of src/main (docs/design.md, "Packages"): who may use whom,
 * no cycles, and DJL kept in the two packages that compute with it. Each package's
 * package-info.java states the same rule in words. Tests are not checked: they may reach anywhere.
 */
@AnalyzeClasses(packages = "dev.upcycle", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
    private static final String OURS = "dev.upcycle..";

    /** No cycles between packages, plan.target counted apart from plan. */
    @ArchTest
    static final ArchRule noCycles = slices().matching("dev.upcycle.(**)").should().beFreeOfCycles();

    @ArchTest
    static final ArchRule error = uses("dev.upcycle.error");

    @ArchTest
    static final ArchRule math = uses("dev.upcycle.math");

    @ArchTest
    static final ArchRule io = uses("dev.upcycle.io", "error", "math");

    @ArchTest
    static final ArchRule model = uses("dev.upcycle.model", "error", "io", "math");

    @ArchTest
    static final ArchRule moe = uses("dev.upcycle.moe", "error", "math", "model", "io");

    @ArchTest
    static final ArchRule plan = uses("dev.upcycle.plan", "error", "math", "io", "model", "moe", "plan.target");

    @ArchTest
    static final ArchRule planTarget = uses("dev.upcycle.plan.target", "error", "math", "io", "model", "moe");

    @ArchTest
    static final ArchRule data = uses("dev.upcycle.data", "error", "math", "io");

    @ArchTest
    static final ArchRule synth = uses("dev.upcycle.synth", "error", "math", "io", "model");

    @ArchTest
    static final ArchRule recipe = uses("dev.upcycle.recipe", "error", "math", "io");

    @ArchTest
    static final ArchRule convert = uses("dev.upcycle.convert", "error", "math", "io", "model", "moe", "plan",
            "plan.target");

    @ArchTest
    static final ArchRule runtime = uses("dev.upcycle.runtime", "error", "math", "io", "model", "moe", "data");

    @ArchTest
    static final ArchRule train = uses("dev.upcycle.train", "error", "math", "io", "model", "moe", "data", "runtime");

    /**
     * verify reads or re-derives plans and replays them through convert's executor into a
     * comparing sink (so its check rounds exactly as the converter does), and runs the runtime's
     * forward; it writes nothing.
     */
    @ArchTest
    static final ArchRule verify = uses("dev.upcycle.verify", "error", "math", "io", "model", "moe", "plan",
            "plan.target", "convert", "runtime");

    /** The command line sits on top: nothing below it may call back into it. */
    @ArchTest
    static final ArchRule nothingUsesCli = noClasses().that().resideOutsideOfPackage("dev.upcycle.cli")
            .should().dependOnClassesThat().resideInAPackage("dev.upcycle.cli");

    /** DJL's tensors, layers, training and engine stay in runtime and train. */
    @ArchTest
    static final ArchRule djlOnlyInRuntimeAndTrain = noClasses().that()
            .resideOutsideOfPackages("dev.upcycle.runtime", "dev.upcycle.train", "dev.upcycle.data", "dev.upcycle.cli")
            .should().dependOnClassesThat().resideInAPackage("ai.djl..");

    /**
     * data loads the tokenizers' native library without the engine, so it may use the tokenizers,
     * DJL's cache directory and the engine's exception type (to turn a failed unpack into one line).
     */
    @ArchTest
    static final ArchRule dataUsesOnlyTheTokenizersOfDjl = noClasses().that().resideInAPackage("dev.upcycle.data")
            .should().dependOnClassesThat(resideInAPackage("ai.djl..")
                    .and(not(resideInAnyPackage("ai.djl.huggingface.tokenizers..", "ai.djl.util")))
                    .and(not(equivalentTo(EngineException.class))));

    /** cli knows DJL only as the exception an allocation failure arrives in. */
    @ArchTest
    static final ArchRule cliUsesOnlyTheEngineException = noClasses().that().resideInAPackage("dev.upcycle.cli")
            .should().dependOnClassesThat(resideInAPackage("ai.djl..").and(not(equivalentTo(EngineException.class))));

    /**
     * Training makes every array through the run's root manager, on the device its plan chose:
     * nothing in train except the CPU bench opens a manager of its own (which would sit on the CPU,
     * or on DJL's default device) or loads a model onto the CPU.
     */
    @ArchTest
    static final ArchRule trainMakesArraysOnlyOnThePlannedDevice = noClasses().that().resideInAPackage("dev.upcycle.train")
            .and().doNotHaveSimpleName("TrainBench")
            .should().callMethod(Djl.class, "newManager")
            .orShould().callMethod(NDManager.class, "newBaseManager")
            .orShould().callMethod(NDManager.class, "newBaseManager", Device.class)
            .orShould().callMethod(NDManager.class, "newBaseManager", String.class)
            .orShould().callMethod(Engine.class, "newBaseManager")
            .orShould().callMethod(Engine.class, "newBaseManager", Device.class)
            .orShould().callMethod(CausalLm.class, "load", Path.class);

    /**
     * Classes of {@code pkg} (that package alone, not its sub-packages) use, of ours, only their
     * own package and {@code allowed} (names below dev.upcycle).
     */
    private static ArchRule uses(String pkg, String... allowed) {
        String[] own = Stream.concat(Stream.of(pkg), Arrays.stream(allowed).map(a -> "dev.upcycle." + a))
                .toArray(String[]::new);
        return classes().that().resideInAPackage(pkg)
                .should().onlyDependOnClassesThat(resideOutsideOfPackage(OURS).or(resideInAnyPackage(own)))
                .as(String.format("%s uses only %s of ours", pkg,
                        allowed.length == 0 ? "nothing" : String.join(", ", allowed)));
    }
}
