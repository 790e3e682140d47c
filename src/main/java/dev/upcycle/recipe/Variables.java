package dev.upcycle.recipe;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ${name}} substitution. Variables may refer to earlier ones; {@code $$} is a literal
 * dollar. An undefined name is reported through the supplied error factory, so the caller can
 * say which file, step and key it was in.
 */
final class Variables {
    private static final Pattern REF = Pattern.compile("\\$\\$|\\$\\{([A-Za-z_][A-Za-z0-9_.-]*)}|\\$\\{[^}]*}?");

    private Variables() {
    }

    /** Resolves variables in declaration order; a variable may use the ones declared before it. */
    static Map<String, String> resolve(Map<String, String> declared, Function<String, RuntimeException> undefined) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : declared.entrySet()) {
            out.put(e.getKey(), substitute(e.getValue(), out, name -> undefined.apply(
                    "variable '" + e.getKey() + "' uses ${" + name + "}, which is not defined before it")));
        }
        return out;
    }

    /** Replaces every reference in {@code text}. */
    static String substitute(String text, Map<String, String> vars, Function<String, RuntimeException> undefined) {
        Matcher m = REF.matcher(text);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String token = m.group();
            String replacement;
            if (token.equals("$$")) {
                replacement = "$";
            } else if (m.group(1) != null) {
                replacement = vars.get(m.group(1));
                if (replacement == null) {
                    throw undefined.apply(m.group(1));
                }
            } else {
                throw undefined.apply(token);
            }
            m.appendReplacement(b, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(b);
        return b.toString();
    }
}
