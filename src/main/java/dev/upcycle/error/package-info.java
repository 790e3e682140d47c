/**
 * Named user-facing errors ({@link dev.upcycle.error.UpcycleException} with an
 * {@link dev.upcycle.error.ErrorKind}), the exit codes they map to, and cancellation.
 *
 * <p>The bottom of the layering: imports nothing of ours (ArchitectureTest).
 */
package dev.upcycle.error;
