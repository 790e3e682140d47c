package dev.upcycle.cli;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Implemented by commands that have a few numbers worth showing in the summary of
 * {@code upcycle run} (a logits error, an eval loss, a parameter count). Read after the
 * command ran; keys are short labels, values are already formatted.
 */
interface KeyFigures {
    Map<String, String> keyFigures();

    /**
     * The same figures for {@code run --json}: snake_case keys and numbers as numbers
     * ({@code "451,904"} becomes 451904). A command whose text figure packs two numbers overrides this.
     */
    default Map<String, Object> jsonFigures() {
        Map<String, Object> out = new LinkedHashMap<>();
        keyFigures().forEach((k, v) -> out.put(jsonKey(k), jsonValue(v)));
        return out;
    }

    static String jsonKey(String label) {
        return label.toLowerCase(Locale.ROOT).replace("tok/s", "tokens_per_second").replace("ppl", "perplexity")
                .replaceAll("[^a-z0-9]+", "_").replaceAll("^_|_$", "");
    }

    /** A number when the text is one (thousands separators allowed), else the text. */
    static Object jsonValue(String text) {
        String plain = text.replace(",", "");
        if (plain.matches("-?\\d{1,18}")) {
            return Long.parseLong(plain);
        }
        try {
            double d = Double.parseDouble(plain);
            return Double.isFinite(d) && !plain.matches(".*[a-zA-Z&&[^eE]].*") ? d : text;
        } catch (NumberFormatException e) {
            return text;
        }
    }
}
