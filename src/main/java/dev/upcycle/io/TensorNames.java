package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/**
 * The rules a tensor name must follow, shared by the reader and the writer (docs/formats.md,
 * "Rejected inputs", row 19).
 */
final class TensorNames {
    private TensorNames() {
    }

    /** {@code file (tensor "name")}, the {@code where} of a tensor-level error. */
    static String where(String file, String name) {
        return file + " (tensor \"" + name + "\")";
    }

    /**
     * Rejects empty names, control characters (NUL included) and lone surrogates (which JSON
     * can smuggle in as {@code \ud800} escapes but UTF-8 cannot encode).
     */
    static void check(String name, String file) {
        if (name.isEmpty()) {
            throw new UpcycleException(ErrorKind.InvalidTensorName, file, "tensor name is empty");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isISOControl(c)) {
                throw new UpcycleException(ErrorKind.InvalidTensorName, file, String.format(
                        "tensor name \"%s\" contains control character U+%04X at index %d", name, (int) c, i));
            }
        }
        if (!wellFormedUtf16(name)) {
            throw new UpcycleException(ErrorKind.InvalidTensorName, file,
                    "tensor name \"" + name + "\" contains a lone surrogate escape");
        }
    }

    /** True when every surrogate is part of a high-low pair. */
    static boolean wellFormedUtf16(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return false;
                }
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
