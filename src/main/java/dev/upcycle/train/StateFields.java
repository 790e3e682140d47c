package dev.upcycle.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/**
 * Reads the fields of the JSON a train run writes (trainer-state.json, metrics.jsonl) as untrusted
 * input: a field that is missing, of the wrong type, out of range or not finite is an
 * {@link ErrorKind#InvalidRunState} naming the file and the field, never a silently wrapped number.
 *
 * @param where the file (and line) being read, for messages
 */
record StateFields(String where) {

    /** An integer field within {@code [min, max]}. */
    long integer(JsonNode o, String field, long min, long max) {
        JsonNode v = required(o, field);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
            throw bad(field, "must be an integer from " + min + " to " + max + ", not " + shown(v));
        }
        return v.asLong();
    }

    /** A finite number field. */
    double finite(JsonNode o, String field) {
        JsonNode v = required(o, field);
        if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
            throw bad(field, "must be a finite number, not " + shown(v));
        }
        return v.asDouble();
    }

    JsonNode required(JsonNode o, String field) {
        if (o == null || !o.isObject()) {
            throw new UpcycleException(ErrorKind.InvalidRunState, where, "expected a JSON object");
        }
        JsonNode v = o.get(field);
        if (v == null || v.isNull()) {
            throw bad(field, "is missing");
        }
        return v;
    }

    UpcycleException bad(String field, String why) {
        return new UpcycleException(ErrorKind.InvalidRunState, where, "field '" + field + "' " + why);
    }

    private static String shown(JsonNode v) {
        String s = v.toString();
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
