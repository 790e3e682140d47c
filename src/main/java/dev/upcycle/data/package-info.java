/**
 * Training and evaluation text as token ids: the tokenizer choice, the token codecs (bytes or a
 * Hugging Face {@code tokenizer.json}, {@link dev.upcycle.data.TextCodec}), cached token files
 * ({@link dev.upcycle.data.TokenData}), the token source of a run
 * ({@link dev.upcycle.data.TokenSource}) and its deterministic batches
 * ({@link dev.upcycle.data.Batcher}). {@link dev.upcycle.data.DjlNative} prepares every DJL native
 * library (offline, no tracking, a one-line error when its cache is unwritable).
 *
 * <p>Imports, of ours, only {@code error}, {@code math} and {@code io}. Of DJL it uses the
 * tokenizers, DJL's cache directory and the engine's exception type, never the tensor engine
 * itself ({@code ai.djl.ndarray}, {@code ai.djl.engine.Engine}); nothing of {@code runtime},
 * {@code train} or {@code cli} (ArchitectureTest).
 */
package dev.upcycle.data;
