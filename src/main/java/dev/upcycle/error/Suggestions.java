package dev.upcycle.error;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * "Did you mean" for a mistyped name, as git does: the known names closest to what was typed, by
 * edit distance (a swap of two neighbouring letters counts as one edit). Case and the choice of
 * '_' or '-' do not count, so {@code top_k} finds {@code top-k}.
 */
public final class Suggestions {
    private Suggestions() {
    }

    /** The closest candidates (at most three, in the candidates' order), or none when nothing is close. */
    public static List<String> closest(String typed, Collection<String> candidates) {
        String t = normal(typed);
        int best = Integer.MAX_VALUE;
        List<String> out = new ArrayList<>();
        for (String c : candidates) {
            String n = normal(c);
            int d = distance(t, n);
            // Close enough: about one edit in three letters, at least one; a known name typed short
            // ("exact" for "exact-down") is close too.
            boolean near = d <= Math.max(1, Math.min(t.length(), n.length()) / 3)
                    || (t.length() >= 3 && n.startsWith(t));
            if (!near) {
                continue;
            }
            int rank = n.startsWith(t) && d > 0 ? Math.min(d, 2) : d;
            if (rank < best) {
                best = rank;
                out.clear();
            }
            if (rank == best && out.size() < 3 && !out.contains(c)) {
                out.add(c);
            }
        }
        return out;
    }

    /** {@code "; did you mean X?"} (or {@code "X or Y"}), or "" when nothing is close. */
    public static String didYouMean(String typed, Collection<String> candidates) {
        List<String> c = closest(typed, candidates);
        return c.isEmpty() ? "" : "; did you mean " + String.join(" or ", c) + "?";
    }

    private static String normal(String s) {
        return s == null ? "" : s.strip().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
