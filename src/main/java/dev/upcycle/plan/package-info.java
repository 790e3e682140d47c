/**
 * Planning a conversion: {@link dev.upcycle.plan.Planner} turns a described dense checkpoint and
 * an {@link dev.upcycle.plan.UpcycleRequest} into an {@link dev.upcycle.plan.UpcyclePlan}, a value
 * that lists every output tensor with its sources, slice, scale and dtype, decided before any byte
 * is written. Target-specific facts live in {@link dev.upcycle.plan.target}.
 */
package dev.upcycle.plan;
