/**
 * Checks of checkpoints that return findings and reports: headers and config against tensors
 * ({@code inspect}); the integrity checks of {@code verify} (manifest sizes and SHA-256, headers,
 * index, config, NaN/Inf) and its layer-by-layer functional comparison with the dense source,
 * which runs on {@link dev.upcycle.runtime.LayerStream} and sees only plain float arrays.
 */
package dev.upcycle.verify;
