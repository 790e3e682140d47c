package dev.upcycle.io;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Says what is wrong in a JSON (or YAML) file in the file's terms, with line and column. Jackson's
 * own messages advise enabling parser features ({@code enable JsonReadFeature...}) and quote its
 * internal source description; users can do nothing with either, so they never reach a message.
 */
public final class JsonErrors {
    private static final Pattern NON_STANDARD = Pattern.compile("Non-standard token '([^']*)'.*");
    private static final Pattern UNEXPECTED_CHAR = Pattern.compile(
            "Unexpected character \\('(.)' \\(code (\\d+)\\)\\)(?: in numeric value)?: (.*)", Pattern.DOTALL);
    private static final Pattern CLOSE_MARKER = Pattern.compile(
            "Unexpected close marker '(.)': expected '(.)'.*?(Array|Object) starting at .*?line: (\\d+), column: (\\d+).*",
            Pattern.DOTALL);
    private static final Pattern END_INSIDE = Pattern.compile(
            "Unexpected end-of-input: expected close marker for (Array|Object).*?line: (\\d+), column: (\\d+).*",
            Pattern.DOTALL);
    private static final Pattern UNRECOGNIZED = Pattern.compile("Unrecognized token '([^']*)'.*", Pattern.DOTALL);
    private static final Pattern DUPLICATE = Pattern.compile("Duplicate (?:field|key) '([^']*)'.*", Pattern.DOTALL);
    private static final Pattern LIMIT = Pattern.compile(
            "(Document nesting depth|String value length|Number value length|Name length) \\((\\d+)\\) exceeds the "
                    + "maximum allowed \\((\\d+).*", Pattern.DOTALL);
    private static final Pattern CONTROL = Pattern.compile("Illegal unquoted character \\(\\(CTRL-CHAR, code (\\d+)\\)\\).*",
            Pattern.DOTALL);

    private JsonErrors() {
    }

    /** What is wrong and where, e.g. {@code "NaN is not a JSON number (line 3, column 17)"}. */
    public static String describe(JsonProcessingException e) {
        return what(e.getOriginalMessage()) + at(e.getLocation());
    }

    /** The problem, in the file's terms; package-private for tests. */
    static String what(String message) {
        String m = message == null ? "malformed" : message.strip();
        Matcher x;
        if ((x = NON_STANDARD.matcher(m)).matches()) {
            return x.group(1) + " is not a JSON number (JSON numbers are finite)";
        }
        if (m.contains("ALLOW_COMMENTS")) {
            return "a comment; JSON has no comments";
        }
        if ((x = CLOSE_MARKER.matcher(m)).matches()) {
            return "'" + x.group(1) + "' closes the " + x.group(3).toLowerCase(java.util.Locale.ROOT) + " opened at line "
                    + x.group(4) + ", column " + x.group(5) + ", which needs '" + x.group(2) + "'";
        }
        if ((x = END_INSIDE.matcher(m)).matches()) {
            return "the text ends inside the " + x.group(1).toLowerCase(java.util.Locale.ROOT) + " opened at line "
                    + x.group(2) + ", column " + x.group(3);
        }
        if (m.startsWith("Unexpected end-of-input")) {
            return "the text ends before the JSON value is complete";
        }
        if ((x = UNEXPECTED_CHAR.matcher(m)).matches()) {
            return unexpected(x.group(1).charAt(0), Integer.parseInt(x.group(2)), x.group(3));
        }
        if ((x = UNRECOGNIZED.matcher(m)).matches()) {
            return "'" + x.group(1) + "' is not a JSON value (strings take double quotes)";
        }
        if ((x = DUPLICATE.matcher(m)).matches()) {
            return "key '" + x.group(1) + "' appears twice";
        }
        if ((x = LIMIT.matcher(m)).matches()) {
            String limit = x.group(3);
            return switch (x.group(1)) {
                case "Document nesting depth" -> "nested more than " + limit + " levels deep";
                case "String value length" -> "a string longer than " + limit + " characters";
                case "Number value length" -> "a number longer than " + limit + " digits";
                default -> "a key longer than " + limit + " characters";
            };
        }
        if ((x = CONTROL.matcher(m)).matches()) {
            return String.format(java.util.Locale.ROOT, "a raw control character 0x%02X inside a string; it must be escaped",
                    Integer.parseInt(x.group(1)));
        }
        if (m.contains("Leading zeroes")) {
            return "a number with a leading zero";
        }
        return clean(m);
    }

    private static String unexpected(char c, int code, String rest) {
        String shown = code < 0x20 || code == 0x7f ? String.format(java.util.Locale.ROOT, "control character 0x%02X", code)
                : "'" + c + "'";
        if (c == '\'') {
            return "a single quote; JSON strings and keys take double quotes";
        }
        if (rest.contains("plus sign")) {
            return "a number with a '+' sign";
        }
        if (rest.contains("double-quote to start field name")) {
            return c == '}' ? "a comma before '}'; JSON allows no trailing comma" : "expected a key in double quotes, found " + shown;
        }
        if (rest.contains("comma to separate Object")) {
            return "expected ',' or '}' after a value, found " + shown;
        }
        if (rest.contains("comma to separate Array")) {
            return "expected ',' or ']' after a value, found " + shown;
        }
        if (rest.contains("colon to separate")) {
            return "expected ':' after a key, found " + shown;
        }
        if (c == ']') {
            return "a comma before ']'; JSON allows no trailing comma";
        }
        return "unexpected " + shown + " where a value should be";
    }

    /**
     * Anything not recognised above, without Jackson's source quotes and feature advice. YAML
     * messages span lines (context, excerpt, caret, problem): the unindented lines are the words.
     */
    private static String clean(String m) {
        String s = m.lines().filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0)))
                .map(String::strip).reduce((a, b) -> a + "; " + b).orElse("malformed");
        s = s.replaceAll("\\s*\\((?:for \\w+ starting|start marker) at \\[Source:.*?]\\)", "");
        s = s.replaceAll("\\s*\\[Source:.*?]", "");
        s = s.replaceAll("[:;,]?\\s*(?:enable|use) `[^`]*`[^;:)]*", "");
        s = s.replaceAll("\\s*\\(code \\d+\\)", "");
        return s.strip();
    }

    private static String at(JsonLocation loc) {
        if (loc == null || loc.getLineNr() < 1) {
            return "";
        }
        return " (line " + loc.getLineNr() + ", column " + Math.max(1, loc.getColumnNr()) + ")";
    }
}
