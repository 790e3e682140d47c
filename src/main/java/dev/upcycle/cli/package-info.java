/**
 * The command line ({@link dev.upcycle.cli.Main}, picocli): one class per command, the options
 * shared between them, recipes run as steps, the one-line error printer and its exit codes, and
 * progress. A command parses and checks its options, calls the package that does the work, and
 * prints the result; the work itself lives below.
 *
 * <p>The top of the layering: it may import any package of ours, and none imports it
 * (ArchitectureTest). Of DJL it knows only the engine's exception type, which the error printer
 * turns into an out-of-memory error.
 */
package dev.upcycle.cli;
