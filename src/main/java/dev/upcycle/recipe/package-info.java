/**
 * Recipe files: YAML read into records, variables substituted, structure validated. Which keys
 * a command accepts is decided by the command's own option definitions (in the CLI), so there
 * is no second list of option names here.
 *
 * <p>Imports, of ours, only {@code error}, {@code math} and {@code io}; never {@code cli} or the
 * packages a step runs (ArchitectureTest).
 */
package dev.upcycle.recipe;
