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
 *
 * <p>Expansion is bounded: a value may not grow past {@link #MAX_VALUE} characters, checked
 * before each piece is appended, so variables that each double the one before cannot turn a
 * small file into gigabytes.
 */
final class Variables {
    /** The longest expanded value: the parser's own limit on a string in the file. */
    static final int MAX_VALUE = 64 * 1024;
    private static final Pattern REF = Pattern.compile("\\$\\$|\\$\\{([A-Za-z_][A-Za-z0-9_.-]*)}|\\$\\{[^}]*}?");

    private Variables() {
    }

    /** How a substitution failed: a name that is not defined, or a value grown too long. */
    interface Errors {
        RuntimeException undefined(String name);

        RuntimeException tooLong(int limit);
    }

    /** Resolves variables in declaration order; a variable may use the ones declared before it. */
    static Map<String, String> resolve(Map<String, String> declared, Function<String, RuntimeException> error) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : declared.entrySet()) {
            String name = e.getKey();
            out.put(name, substitute(e.getValue(), out, new Errors() {
                @Override
                public RuntimeException undefined(String ref) {
                    return error.apply("variable '" + name + "' uses ${" + ref + "}, which is not defined before it");
                }

                @Override
                public RuntimeException tooLong(int limit) {
                    return error.apply("variable '" + name + "' expands to more than " + limit
                            + " characters; recipe values are paths and short settings");
                }
            }));
        }
        return out;
    }

    /** Replaces every reference in {@code text}. */
    static String substitute(String text, Map<String, String> vars, Errors errors) {
        if (text.length() > MAX_VALUE) {
            throw errors.tooLong(MAX_VALUE);
        }
        Matcher m = REF.matcher(text);
        StringBuilder b = new StringBuilder();
        int copied = 0;
        while (m.find()) {
            String token = m.group();
            String replacement;
            if (token.equals("$$")) {
                replacement = "$";
            } else if (m.group(1) != null) {
                replacement = vars.get(m.group(1));
                if (replacement == null) {
                    throw errors.undefined(m.group(1));
                }
            } else {
                throw errors.undefined(token);
            }
            if ((long) b.length() + (m.start() - copied) + replacement.length() > MAX_VALUE) {
                throw errors.tooLong(MAX_VALUE);
            }
            m.appendReplacement(b, Matcher.quoteReplacement(replacement));
            copied = m.end();
        }
        if ((long) b.length() + (text.length() - copied) > MAX_VALUE) {
            throw errors.tooLong(MAX_VALUE);
        }
        m.appendTail(b);
        return b.toString();
    }
}
