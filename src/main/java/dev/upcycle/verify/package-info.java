/** Checks of checkpoints that return findings and reports: headers, config against tensors. */
package dev.upcycle.verify;
