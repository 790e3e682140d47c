package dev.upcycle.model;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One tensor of a family, as written in its JSON file.
 *
 * @param role    what the tensor is for; unique within a family
 * @param scope   where it repeats: once, once per layer, or once per routed expert of a layer
 * @param pattern the name with {@code {L}} for the layer and {@code {X}} for the expert index
 *                (decimal, 0-based, no padding)
 * @param shape   symbolic dimensions, {@code [out, in]} for linear weights
 * @param when    the condition under which the tensor exists
 * @param experts for EXPERT scope, which experts {@code {X}} counts: routed FFN experts ({@code E})
 *                or attention experts ({@code Ea}, native family)
 */
public record TensorTemplate(TensorRole role, Scope scope, String pattern, List<Dim> shape, Condition when,
                             Dim experts) {

    /** Where a template repeats. The scope must agree with the placeholders in the pattern. */
    public enum Scope { PRE, LAYER, EXPERT, POST }

    public TensorTemplate(TensorRole role, Scope scope, String pattern, List<Dim> shape, Condition when) {
        this(role, scope, pattern, shape, when, Dim.E);
    }

    private static final String LAYER = "{L}";
    private static final String EXPERT = "{X}";
    /** Nine digits always fit an int, and no real checkpoint has a billion layers or experts. */
    private static final int MAX_DIGITS = 9;

    public TensorTemplate {
        Objects.requireNonNull(role);
        Objects.requireNonNull(scope);
        Objects.requireNonNull(pattern);
        Objects.requireNonNull(when);
        experts = experts == null ? Dim.E : experts;
        if (experts != Dim.E && experts != Dim.EA) {
            throw new IllegalArgumentException("experts of \"" + pattern + "\" must be E or Ea, not " + experts);
        }
        shape = List.copyOf(shape);
        boolean hasLayer = pattern.contains(LAYER);
        boolean hasExpert = pattern.contains(EXPERT);
        boolean ok = switch (scope) {
            case PRE, POST -> !hasLayer && !hasExpert;
            case LAYER -> hasLayer && !hasExpert;
            case EXPERT -> hasLayer && hasExpert && pattern.indexOf(LAYER) < pattern.indexOf(EXPERT);
        };
        if (!ok || count(pattern, LAYER) > 1 || count(pattern, EXPERT) > 1) {
            throw new IllegalArgumentException("pattern \"" + pattern + "\" does not fit scope " + scope);
        }
    }

    /** The concrete name; {@code layer}/{@code expert} are ignored where the pattern has no placeholder. */
    public String name(int layer, int expert) {
        String n = pattern;
        if (scope != Scope.PRE && scope != Scope.POST) {
            requireIndex(layer, "layer");
            n = n.replace(LAYER, Integer.toString(layer));
        }
        if (scope == Scope.EXPERT) {
            requireIndex(expert, "expert");
            n = n.replace(EXPERT, Integer.toString(expert));
        }
        return n;
    }

    /**
     * Parses a concrete name against this pattern.
     *
     * @return the (layer, expert) indexes, -1 where the pattern has no placeholder, or empty
     */
    public Optional<int[]> match(String name) {
        int layer = -1;
        int expert = -1;
        int p = 0;
        int n = 0;
        while (p < pattern.length()) {
            boolean isLayer = pattern.startsWith(LAYER, p);
            if (isLayer || pattern.startsWith(EXPERT, p)) {
                int end = n;
                while (end < name.length() && end - n <= MAX_DIGITS && Character.isDigit(name.charAt(end))
                        && name.charAt(end) < 0x80) {
                    end++;
                }
                int len = end - n;
                if (len == 0 || len > MAX_DIGITS || (len > 1 && name.charAt(n) == '0')) {
                    return Optional.empty();
                }
                int value = Integer.parseInt(name, n, end, 10);
                if (isLayer) {
                    layer = value;
                } else {
                    expert = value;
                }
                n = end;
                p += LAYER.length();
            } else {
                if (n >= name.length() || name.charAt(n) != pattern.charAt(p)) {
                    return Optional.empty();
                }
                n++;
                p++;
            }
        }
        return n == name.length() ? Optional.of(new int[] {layer, expert}) : Optional.empty();
    }

    private static void requireIndex(int index, String what) {
        if (index < 0) {
            throw new IllegalArgumentException(what + " index " + index + " must be >= 0");
        }
    }

    private static int count(String s, String sub) {
        int c = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) {
            c++;
        }
        return c;
    }
}
