/**
 * The output formats a conversion can write, one {@link dev.upcycle.plan.target.MoeTarget} each
 * (mixtral, qwen2-moe, qwen3-moe and the native format): whether it can take a request and why
 * not, the {@code config.json} it gets ({@link dev.upcycle.plan.target.TargetConfigs}), and the
 * oldest transformers release that loads it ({@link dev.upcycle.plan.target.TransformersFloor}).
 * Every target-specific fact lives here; no code elsewhere tests a target by its name.
 *
 * <p>Imports, of ours, {@code error}, {@code math}, {@code io}, {@code model}, {@code moe}; nothing
 * of {@code plan} (the planner passes a target what it needs as arguments), {@code convert},
 * {@code runtime}, {@code train}, {@code verify} or {@code cli} (ArchitectureTest).
 */
package dev.upcycle.plan.target;
