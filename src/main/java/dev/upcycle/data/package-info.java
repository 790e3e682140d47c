/**
 * Training and evaluation text as token ids: tokenizer choice, the token codecs (bytes or a
 * Hugging Face {@code tokenizer.json}), cached token files, the token source of a run and its
 * deterministic batches. Loads the tokenizers' native library, never the tensor engine.
 */
package dev.upcycle.data;
