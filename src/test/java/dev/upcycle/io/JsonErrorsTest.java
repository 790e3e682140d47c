package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Issue 14: what users read about a malformed JSON file, without Jackson's advice or source quotes. */
class JsonErrorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String describe(String text) {
        try {
            JSON.readTree(text);
            throw new AssertionError("parsed: " + text);
        } catch (JsonProcessingException e) {
            return JsonErrors.describe(e);
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '~', value = {
        "{\"a\": NaN}|NaN is not a JSON number (JSON numbers are finite) (line 1, column 10)",
        "{\"a\": -Infinity}|-Infinity is not a JSON number",
        "{'a': 1}|a single quote; JSON strings and keys take double quotes (line 1, column 2)",
        "{\"a\": 1,}|a comma before '}'; JSON allows no trailing comma",
        "{\"a\": [1, 2}|'}' closes the array opened at line 1, column 7, which needs ']' (line 1, column 12)",
        "[1, 2|the text ends inside the array opened at line 1, column 1",
        "{\"a\": 01}|a number with a leading zero",
        "{\"a\": +1}|a number with a '+' sign",
        "{\"a\": 1 // note\\n}|a comment; JSON has no comments",
        "model_type: llama|'model_type' is not a JSON value (strings take double quotes)",
        "{\"a\": 1 \"b\": 2}|expected ',' or '}' after a value, found '\"'",
    })
    void saysWhatIsWrongAndWhere(String text, String expected) {
        String d = describe(text.replace("\\n", "\n"));
        assertThat(d).startsWith(expected).doesNotContain("enable").doesNotContain("Source")
                .doesNotContain("JsonReadFeature").doesNotContain("code ");
    }

    /** A YAML message is context, excerpt, caret and problem over several lines: keep the words. */
    @Test
    void yamlMessagesKeepTheirWordsAndDropTheExcerpt() {
        String m = "while parsing a flow mapping\n in 'reader', line 2, column 14:\n      - inspect: {path: x\n"
                + "                 ^\nexpected ',' or '}', but got <stream end>\n in 'reader', line 3, column 1:\n    \n    ^\n";
        assertThat(JsonErrors.what(m)).isEqualTo("while parsing a flow mapping; expected ',' or '}', but got <stream end>");
    }

    @Test
    void everyMessageNamesALine() {
        for (String text : new String[] {"{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"\u0001\""}) {
            assertThat(describe(text)).as(text).contains("(line 1, column ").doesNotContain("Source");
        }
    }
}
