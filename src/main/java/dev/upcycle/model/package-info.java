/**
 * Model families as data and the description of one dense or MoE checkpoint.
 *
 * <p>A {@link dev.upcycle.model.Family} is read from a JSON resource (one per family under
 * {@code dev/upcycle/families/}) and lists its tensors as {@link dev.upcycle.model.TensorTemplate}s,
 * each tagged with a {@link dev.upcycle.model.TensorRole}. Code asks a family for "the
 * {@code MLP_UP} tensor of layer 7" and never builds a tensor name itself: tensor names live in the
 * family JSON only. {@link dev.upcycle.model.ModelConfig} is {@code config.json} parsed and
 * validated, and answers each config fact once; {@link dev.upcycle.model.ConfigWriter} writes it
 * back; {@link dev.upcycle.model.ModelDescription} compares the tensors found in a checkpoint with
 * what family and config promise; {@link dev.upcycle.model.ModelSource} is the describe step every
 * command shares: it opens a checkpoint through {@code io}'s reader, reads its config and collects
 * those findings.
 *
 * <p>Imports, of ours, only {@code error}, {@code io} (headers, shapes, dtypes, opening a
 * checkpoint) and {@code math}; never how experts are built ({@code moe}, {@code plan}) nor
 * DJL (ArchitectureTest). Families are passed around in an explicit
 * {@link dev.upcycle.model.FamilyRegistry}; there is no static mutable state.
 */
package dev.upcycle.model;
