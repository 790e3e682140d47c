/**
 * Small numeric helpers shared by synth, the upcycling maths and convert (the seeded Gaussian
 * every random tensor is drawn from).
 *
 * <p>Imports nothing of ours (ArchitectureTest).
 */
package dev.upcycle.math;
