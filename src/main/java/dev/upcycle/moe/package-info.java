/**
 * The mathematics of dense-to-MoE upcycling (docs/method.md), as values and pure functions: the
 * options ({@link dev.upcycle.moe.UpcycleSpec}, {@link dev.upcycle.moe.RoutingMode},
 * {@link dev.upcycle.moe.ScalingMode}, {@link dev.upcycle.moe.RouterInit} and the other enums,
 * with the names the CLI spells them by), where every expert's neurons come from
 * ({@link dev.upcycle.moe.ExpertLayout}), the scale factors ({@link dev.upcycle.moe.Scaling}),
 * router initialisation ({@link dev.upcycle.moe.RouterInitializer}), the attention-expert
 * accounting ({@link dev.upcycle.moe.MoaAccounting}), and the one place a step-0 verdict is decided
 * ({@link dev.upcycle.moe.FidelityAnalysis} for the options, {@link dev.upcycle.moe.ConversionFidelity}
 * for what a whole conversion adds to them).
 *
 * <p>No files and no family names: a question about a checkpoint arrives as numbers or as a
 * {@code model} value. Imports, of ours, only {@code error}, {@code math}, and value types of
 * {@code model} and {@code io}; never {@code plan}, {@code convert}, {@code runtime},
 * {@code train}, {@code verify} or {@code cli}, and no DJL (ArchitectureTest).
 */
package dev.upcycle.moe;
