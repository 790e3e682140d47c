/**
 * Checks of checkpoints that return findings and reports: headers and config against tensors
 * ({@code inspect}); the integrity checks of {@code verify} (manifest sizes and SHA-256, headers,
 * index, config, NaN/Inf) and its layer-by-layer functional comparison with the dense source,
 * which runs on {@link dev.upcycle.runtime.LayerStream} and sees only plain float arrays.
 *
 * <p>Imports, of ours, {@code error}, {@code math}, {@code io}, {@code model}, {@code moe},
 * {@code plan} and {@code plan.target} (to read a recorded plan back) and {@code runtime} (the
 * functional check's forward); never {@code convert}, {@code train}, {@code data} or {@code cli}:
 * a check never converts, and uses no DJL of its own (ArchitectureTest).
 */
package dev.upcycle.verify;
