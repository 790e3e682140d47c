/** Deterministic random dense checkpoints of every supported family, for tests and trial runs. */
package dev.upcycle.synth;
