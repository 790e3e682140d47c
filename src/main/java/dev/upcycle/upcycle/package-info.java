/**
 * The mathematics of dense-to-MoE upcycling (docs/method.md): the options as values
 * ({@link dev.upcycle.upcycle.UpcycleSpec} and its enums), where every expert's neurons come from
 * ({@link dev.upcycle.upcycle.ExpertLayout}), the weight-scaling factors
 * ({@link dev.upcycle.upcycle.Scaling}), router initialisation
 * ({@link dev.upcycle.upcycle.RouterInitializer}), whether step 0 reproduces the dense model
 * ({@link dev.upcycle.upcycle.FidelityAnalysis}) and the per-expert tensor slicing
 * ({@link dev.upcycle.upcycle.ExpertSlicer}).
 *
 * <p>Pure functions over row-major {@code float[]} matrices and value types. Knows nothing of
 * files, model families, the CLI or DJL; the planner calls into it.
 */
package dev.upcycle.upcycle;
