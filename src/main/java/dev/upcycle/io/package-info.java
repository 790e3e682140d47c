/**
 * Streaming safetensors I/O: headers, dtypes and conversions, single-file and sharded
 * checkpoints, the atomic output directory. Knows nothing of model families or experts.
 */
package dev.upcycle.io;
