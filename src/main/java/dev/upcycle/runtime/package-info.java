/**
 * The forward pass on the DJL PyTorch engine: weights read with our own reader (BF16 converted in
 * Java, everything DJL sees is FP32), RMSNorm, rotary embeddings, grouped-query attention, SwiGLU
 * MLPs and MoE blocks split into router, dispatcher and experts, a resident
 * {@link dev.upcycle.runtime.CausalLm} for train, incremental decoding with a
 * {@link dev.upcycle.runtime.KvCache} for sample, and layer-by-layer passes for models larger
 * than memory: {@link dev.upcycle.runtime.LayerStream} for verify and
 * {@link dev.upcycle.runtime.StreamedEval} (with the loss over vocabulary blocks) for eval.
 *
 * <p>With {@code train}, the only package that computes with DJL ({@code ai.djl.ndarray},
 * {@code ai.djl.nn}, {@code ai.djl.engine}). Imports, of ours, {@code error}, {@code math},
 * {@code io}, {@code model}, {@code moe} and {@code data}; never {@code plan}, {@code convert},
 * {@code train}, {@code verify} or {@code cli} (ArchitectureTest).
 */
package dev.upcycle.runtime;
