/**
 * Streaming safetensors I/O: headers, dtypes and conversions, single-file and sharded
 * checkpoints, the Hugging Face cache layout, {@code upcycle.json} provenance, and the atomic
 * output directory (written under a temporary name, renamed when complete, locked meanwhile).
 * Knows nothing of model families or experts: tensors are names, dtypes and shapes here.
 *
 * <p>Imports, of ours, only {@code error} and {@code math}; never {@code model} or anything above
 * it (ArchitectureTest).
 */
package dev.upcycle.io;
