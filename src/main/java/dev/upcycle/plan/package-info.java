/**
 * Planning a conversion: {@link dev.upcycle.plan.Planner} turns a described dense checkpoint and
 * an {@link dev.upcycle.plan.UpcycleRequest} into an {@link dev.upcycle.plan.UpcyclePlan}, a value
 * that lists every output tensor ({@link dev.upcycle.plan.PlannedTensor}) with its sources
 * ({@link dev.upcycle.plan.TensorSource}), slice, scale and dtype, decided before any byte is
 * written. {@link dev.upcycle.plan.SeedCheck} checks that several dense seeds agree. Reads no
 * tensor data and writes nothing. Target-specific facts live in {@link dev.upcycle.plan.target}.
 *
 * <p>Imports, of ours, only {@code error}, {@code math}, {@code io} (headers and dtypes),
 * {@code model}, {@code moe} and {@code plan.target}; never {@code convert}, {@code runtime},
 * {@code train}, {@code verify}, {@code data} or {@code cli}, and no DJL (ArchitectureTest).
 */
package dev.upcycle.plan;
