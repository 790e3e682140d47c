/** Small numeric helpers shared by synth and the upcycling planner. Depends on nothing. */
package dev.upcycle.math;
