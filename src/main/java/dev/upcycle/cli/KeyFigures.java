package dev.upcycle.cli;

import java.util.Map;

/**
 * Implemented by commands that have a few numbers worth showing in the summary of
 * {@code upcycle run} (a logits error, an eval loss, a parameter count). Read after the
 * command ran; keys are short labels, values are already formatted.
 */
interface KeyFigures {
    Map<String, String> keyFigures();
}
