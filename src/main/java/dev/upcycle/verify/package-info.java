/**
 * Checks of checkpoints that return findings and reports: headers and config against tensors
 * ({@code inspect}); the integrity checks of {@code verify} (manifest sizes and SHA-256, headers,
 * index, config, NaN/Inf, in one read of the weights); the weight check, which replays the plan
 * (recorded in {@code upcycle.json}, or re-derived from the two configs) into a sink that compares
 * instead of writing; and the layer-by-layer functional comparison with the dense source, which
 * runs on {@link dev.upcycle.runtime.LayerStream} and sees only plain float arrays.
 *
 * <p>Imports, of ours, {@code error}, {@code math}, {@code io}, {@code model}, {@code moe},
 * {@code plan} and {@code plan.target} (to read or re-derive a plan), {@code convert} (its
 * executor replays the plan, so the check rounds exactly as the converter does) and
 * {@code runtime} (the functional check's forward); never {@code train}, {@code data} or
 * {@code cli}, and no DJL of its own (ArchitectureTest).
 */
package dev.upcycle.verify;
