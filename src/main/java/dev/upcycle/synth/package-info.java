/**
 * Deterministic random dense checkpoints of every supported family, for tests and trial runs.
 *
 * <p>Imports, of ours, only {@code error}, {@code math}, {@code io} and {@code model}; no DJL
 * (ArchitectureTest).
 */
package dev.upcycle.synth;
