/**
 * Continued training of a (dense or MoE) checkpoint through DJL's PyTorch engine: the
 * configuration ({@link dev.upcycle.train.TrainConfig}), the learning-rate schedule, a hand-written
 * AdamW, global-norm clipping, the MoE auxiliary losses, deterministic batching, checkpoints that
 * resume bit for bit, metrics, plots and progress. {@link dev.upcycle.train.TrainLoop#run} reads
 * top to bottom. Part of the runtime side: it imports DJL, and the CLI only builds a
 * {@code TrainConfig} and calls it.
 */
package dev.upcycle.train;
