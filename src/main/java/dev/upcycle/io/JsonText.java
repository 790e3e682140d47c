package dev.upcycle.io;

/**
 * Minimal JSON string quoting for the headers and index files we write. Only {@code "} and
 * {@code \} need escaping because names with control characters or lone surrogates are
 * rejected before writing; everything else goes out as raw UTF-8, which the reader accepts.
 */
final class JsonText {
    private JsonText() {
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
