package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * Which decoder layers become MoE layers ({@code --layers}); the others stay dense.
 * {@code all}; {@code every:N}, the layers {@code L} with {@code (L+1) mod N = 0} (Qwen-MoE's
 * {@code decoder_sparse_step} rule, so {@code every:2} is layers 1, 3, 5, ...); or a list such as
 * {@code 0,2,5-7}.
 *
 * @param text  the user's spelling, kept for plans and provenance
 * @param every N for {@code every:N} (1 for {@code all}), or 0 for an explicit list
 * @param list  the explicit layers (empty unless {@code every == 0})
 */
public record LayerSelection(String text, int every, List<Integer> list) {

    public static final LayerSelection ALL = new LayerSelection("all", 1, List.of());

    public LayerSelection {
        list = List.copyOf(list);
    }

    /** Parses {@code all}, {@code every:N} or {@code 0,2,5-7}. */
    public static LayerSelection parse(String text) {
        String t = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        if (t.equals("all")) {
            return ALL;
        }
        if (t.startsWith("every:")) {
            int n = number(t.substring("every:".length()), text);
            if (n < 1) {
                throw bad(text, "every:N needs N >= 1");
            }
            return n == 1 ? ALL : new LayerSelection("every:" + n, n, List.of());
        }
        TreeSet<Integer> layers = new TreeSet<>();
        for (String part : t.split(",", -1)) {
            String p = part.strip();
            int dash = p.indexOf('-');
            if (dash > 0) {
                int a = number(p.substring(0, dash), text);
                int b = number(p.substring(dash + 1), text);
                if (b < a) {
                    throw bad(text, "range " + p + " runs backwards");
                }
                if ((long) b - a > 1_000_000) {
                    throw bad(text, "range " + p + " is too long");
                }
                for (int i = a; i <= b; i++) {
                    layers.add(i);
                }
            } else {
                layers.add(number(p, text));
            }
        }
        return new LayerSelection(text.strip(), 0, new ArrayList<>(layers));
    }

    /**
     * The selected layers of a model with {@code numLayers} layers, ascending.
     *
     * @throws UpcycleException ImpossibleCombination for a layer that does not exist or an empty selection
     */
    public List<Integer> resolve(int numLayers) {
        List<Integer> out = new ArrayList<>();
        if (every > 0) {
            for (int l = 0; l < numLayers; l++) {
                if ((l + 1) % every == 0) {
                    out.add(l);
                }
            }
        } else {
            for (int l : list) {
                if (l >= numLayers) {
                    throw new UpcycleException(ErrorKind.ImpossibleCombination, "--layers",
                            "layer " + l + " does not exist: the model has layers 0.." + (numLayers - 1));
                }
                out.add(l);
            }
        }
        if (out.isEmpty()) {
            throw new UpcycleException(ErrorKind.ImpossibleCombination, "--layers", "\"" + text
                    + "\" selects no layer of a " + numLayers + "-layer model, so nothing would be upcycled");
        }
        return List.copyOf(out);
    }

    private static int number(String s, String text) {
        try {
            int v = Integer.parseInt(s.strip());
            if (v < 0) {
                throw bad(text, "layer numbers are >= 0");
            }
            return v;
        } catch (NumberFormatException e) {
            throw bad(text, "\"" + s.strip() + "\" is not a layer number");
        }
    }

    private static UpcycleException bad(String text, String why) {
        return new UpcycleException(ErrorKind.InvalidOption, "--layers", "\"" + text + "\": " + why
                + "; use all, every:N or a list such as 0,2,5-7");
    }

    @Override
    public String toString() {
        return text;
    }
}
