package dev.upcycle.testing;

import static org.assertj.core.api.Assertions.assertThat;

/** Float arrays equal bit for bit (NaN payloads and the sign of zero included). */
public final class BitEquality {
    private BitEquality() {
    }

    /**
     * Fails naming the first element that differs: a message listing every element of a large
     * array runs to megabytes (and ran the test JVM out of heap). Two nulls are equal.
     */
    public static void assertBitEqual(float[] actual, float[] expected, String what) {
        if (actual == null || expected == null) {
            assertThat(actual).as(what).isEqualTo(expected);
            return;
        }
        assertThat(actual).as(what).hasSameSizeAs(expected);
        for (int i = 0; i < actual.length; i++) {
            if (Float.floatToRawIntBits(actual[i]) != Float.floatToRawIntBits(expected[i])) {
                throw new AssertionError(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
            }
        }
    }
}
