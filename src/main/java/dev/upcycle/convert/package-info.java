/**
 * {@code upcycle convert}: opens a dense checkpoint, asks the planner in
 * {@link dev.upcycle.plan.Planner} for an {@link dev.upcycle.plan.UpcyclePlan}, and streams that
 * plan into a complete-or-absent output directory ({@link dev.upcycle.convert.Converter},
 * {@link dev.upcycle.convert.PlanExecutor}), with tokenizer files, a model card and
 * {@code upcycle.json}. Memory does not grow with the model: tensors are copied channel to
 * channel or converted in bounded chunks.
 *
 * <p>Imports, of ours, {@code error}, {@code math}, {@code io}, {@code model}, {@code moe},
 * {@code plan} and {@code plan.target}; never {@code runtime}, {@code train}, {@code verify},
 * {@code data} or {@code cli}, and no DJL: a conversion never loads the tensor engine (ArchitectureTest).
 */
package dev.upcycle.convert;
