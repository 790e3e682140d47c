/** Named user-facing errors and the exit codes they map to. Depends on nothing. */
package dev.upcycle.error;
