/**
 * The forward pass on the DJL PyTorch engine, the only package that imports {@code ai.djl}:
 * weights read with our own reader (BF16 converted in Java, everything DJL sees is FP32),
 * RMSNorm, rotary embeddings, grouped-query attention, SwiGLU MLPs and MoE blocks split into
 * router, dispatcher and experts, a resident {@link dev.upcycle.runtime.CausalLm} for eval and
 * train, incremental decoding with a {@link dev.upcycle.runtime.KvCache} for sample, and a
 * layer-by-layer {@link dev.upcycle.runtime.LayerStream} for verify.
 */
package dev.upcycle.runtime;
