package dev.upcycle.moe;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.Locale;

/**
 * The FFN activation, as far as upcycling cares: whether the FFN is gated and how the activation
 * behaves under scaling (docs/method.md, "Scaling modes"). The exact GELU variant (erf or tanh) does
 * not change any scaling rule, so all GELU spellings map to one constant here; the runtime keeps the
 * variant.
 */
public enum FfnActivation {
    /** SwiGLU: {@code silu(W_g x) * (W_u x)}. Not homogeneous. */
    SILU_GLU("swiglu", true),
    /** GeGLU: {@code gelu(W_g x) * (W_u x)}. Not homogeneous. */
    GELU_GLU("geglu", true),
    /** Plain squared ReLU (Nemotron-4): homogeneous of degree 2, {@code phi(cz) = c^2 phi(z)}. */
    SQUARED_RELU("squared-relu", false),
    /** Plain GELU. Not homogeneous. */
    GELU("gelu", false),
    /** Plain ReLU: homogeneous of degree 1. */
    RELU("relu", false);

    private final String cliName;
    private final boolean gated;

    FfnActivation(String cliName, boolean gated) {
        this.cliName = cliName;
        this.gated = gated;
    }

    /** The spelling used in plans and messages. */
    public String cliName() {
        return cliName;
    }

    /** True when the FFN has a gate projection ({@code phi(W_g x) * W_u x}). */
    public boolean isGated() {
        return gated;
    }

    /**
     * True when {@code phi(cz) = c^k phi(z)} for {@code c > 0}, so that a factor inside the
     * activation can be pulled out (why {@code paper} scaling is exact for these; docs/method.md,
     * "Scaling modes").
     */
    public boolean isPositivelyHomogeneous() {
        return this == SQUARED_RELU || this == RELU;
    }

    /**
     * Maps a Hugging Face {@code hidden_act} (the {@code ACT2FN} key) and whether the MLP has a
     * gate projection to an activation.
     *
     * @throws UpcycleException UnsupportedArchitecture for an activation this tool cannot upcycle
     */
    public static FfnActivation fromHiddenAct(String hiddenAct, boolean gated) {
        String a = hiddenAct == null ? "" : hiddenAct.strip().toLowerCase(Locale.ROOT);
        FfnActivation found = switch (a) {
            case "silu", "swish" -> gated ? SILU_GLU : null;
            case "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_python", "gelu_accurate" ->
                    gated ? GELU_GLU : GELU;
            case "relu2", "squared_relu" -> gated ? null : SQUARED_RELU;
            case "relu" -> gated ? null : RELU;
            default -> null;
        };
        if (found == null) {
            throw new UpcycleException(ErrorKind.UnsupportedArchitecture, "config.json hidden_act",
                    "activation \"" + hiddenAct + "\" in a " + (gated ? "gated" : "plain")
                            + " MLP is not supported; supported: gated silu/gelu (SwiGLU, GeGLU), "
                            + "plain relu2, gelu or relu");
        }
        return found;
    }

    /** Parses the spelling of {@link #cliName()}. */
    public static FfnActivation parse(String text) {
        return CliNames.parse(values(), FfnActivation::cliName, "--activation", "activation", text);
    }

    @Override
    public String toString() {
        return cliName;
    }
}
