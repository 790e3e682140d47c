package dev.upcycle.model;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/**
 * Upper bounds on config sizes. Generous for real models (Llama 3.1 405B: d 16384, f 53248,
 * 126 layers; DeepSeek-V3: 256 experts x 61 layers) but small enough that every derived shape
 * and the total parameter count fit in a long (V*d < 2^42; experts*layers*3*m*d < 2^61), and
 * that the list of expected tensors stays a few million entries at most.
 */
final class ConfigLimits {

    static final long MAX_VOCAB = 1L << 24;
    static final long MAX_HIDDEN = 1L << 17;
    static final long MAX_INTERMEDIATE = 1L << 20;
    static final long MAX_LAYERS = 1024;
    static final long MAX_HEADS = 4096;
    static final long MAX_HEAD_DIM = 4096;
    static final long MAX_EXPERTS = 1L << 16;
    /** Bounds the number of expert modules (and so of expected tensors). */
    static final long MAX_EXPERT_LAYERS = 1L << 20;
    static final String WHERE = "config";

    private ConfigLimits() {
    }

    /** Throws InvalidConfig naming {@code field} and its value unless {@code min <= value <= max}. */
    static void range(String field, long value, long min, long max) {
        if (value < min || value > max) {
            throw invalid(field + " = " + value + " is out of range " + min + ".." + max);
        }
    }

    static void require(boolean ok, String why) {
        if (!ok) {
            throw invalid(why);
        }
    }

    static UpcycleException invalid(String why) {
        return new UpcycleException(ErrorKind.InvalidConfig, WHERE, why);
    }
}
