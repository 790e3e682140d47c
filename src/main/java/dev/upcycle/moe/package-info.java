/**
 * The mathematics of dense-to-MoE upcycling, independent of files and families (docs/method.md):
 * the options as values ({@link dev.upcycle.moe.UpcycleSpec} and its enums), where every expert's
 * neurons come from ({@link dev.upcycle.moe.ExpertLayout}), the scale factors
 * ({@link dev.upcycle.moe.Scaling}), router initialisation ({@link dev.upcycle.moe.RouterInitializer})
 * and the one place a step-0 verdict is decided ({@link dev.upcycle.moe.FidelityAnalysis} for the
 * options, {@link dev.upcycle.moe.ConversionFidelity} for what a whole conversion adds to them).
 */
package dev.upcycle.moe;
