/**
 * Continued training of a (dense or MoE) checkpoint through DJL's PyTorch engine: the
 * configuration ({@link dev.upcycle.train.TrainConfig}), the learning-rate schedule, a hand-written
 * AdamW, global-norm clipping, the MoE auxiliary losses, checkpoints that resume bit for bit,
 * metrics, plots and progress. {@link dev.upcycle.train.TrainLoop#run} reads top to bottom. The CLI
 * only builds a {@code TrainConfig} and calls it.
 *
 * <p>With {@code runtime}, the only package that computes with DJL. Imports, of ours,
 * {@code error}, {@code math}, {@code io}, {@code model}, {@code moe}, {@code data} and
 * {@code runtime}; never {@code plan}, {@code convert}, {@code verify} or {@code cli} (ArchitectureTest).
 */
package dev.upcycle.train;
