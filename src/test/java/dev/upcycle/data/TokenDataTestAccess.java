package dev.upcycle.data;

/** Lets tests in other packages use the hand-made tokenizer.json. */
public final class TokenDataTestAccess {
    private TokenDataTestAccess() {
    }

    public static String json() {
        return TokenDataTest.TOKENIZER_JSON;
    }
}
