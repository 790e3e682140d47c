package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;

/**
 * Safetensors element types. Declaration order is the reference writer's file order (widest
 * first, so every tensor starts aligned to its element size; docs/formats.md, "Writing"). Sub-byte
 * dtypes (F4, F6_*) are rejected outright, so every dtype here has a whole number of bytes.
 */
public enum DType {
    U64(8, Kind.UNSIGNED),
    I64(8, Kind.SIGNED),
    F64(8, Kind.FLOAT),
    C64(8, Kind.COMPLEX),
    F32(4, Kind.FLOAT),
    U32(4, Kind.UNSIGNED),
    I32(4, Kind.SIGNED),
    BF16(2, Kind.FLOAT),
    F16(2, Kind.FLOAT),
    U16(2, Kind.UNSIGNED),
    I16(2, Kind.SIGNED),
    F8_E5M2(1, Kind.FLOAT8),
    F8_E4M3(1, Kind.FLOAT8),
    F8_E8M0(1, Kind.FLOAT8),
    F8_E4M3FNUZ(1, Kind.FLOAT8),
    F8_E5M2FNUZ(1, Kind.FLOAT8),
    I8(1, Kind.SIGNED),
    U8(1, Kind.UNSIGNED),
    BOOL(1, Kind.BOOL);

    /** What the values mean; decides which conversions and scans apply. */
    public enum Kind { FLOAT, FLOAT8, COMPLEX, SIGNED, UNSIGNED, BOOL }

    private final int bytes;
    private final Kind kind;

    DType(int bytes, Kind kind) {
        this.bytes = bytes;
        this.kind = kind;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    public Kind kind() {
        return kind;
    }

    /** F64, F32, BF16 and F16: the dtypes whose values we convert, scale and scan for NaN/Inf. */
    public boolean isFloat() {
        return kind == Kind.FLOAT;
    }

    /** The dtypes this tool writes (docs/formats.md, "Dtypes"). */
    public boolean isWritable() {
        return this == F32 || this == BF16 || this == F16;
    }

    /** The safetensors spelling, which is also the enum name. */
    public String safetensorsName() {
        return name();
    }

    /**
     * Parses an exact, case-sensitive safetensors dtype string.
     *
     * @throws UpcycleException UnknownDtype for anything else, including sub-byte dtypes
     */
    public static DType parse(String s, String where) {
        for (DType t : values()) {
            if (t.name().equals(s)) {
                return t;
            }
        }
        String why = switch (s) {
            case "F4", "F6_E2M3", "F6_E3M2" -> "sub-byte dtype \"" + s + "\" is not supported";
            default -> "dtype \"" + s + "\" is not a safetensors dtype (names are case-sensitive, e.g. F32, BF16)";
        };
        throw new UpcycleException(ErrorKind.UnknownDtype, where, why);
    }

    /** The config.json spelling ({@code torch_dtype} / {@code dtype}) of a writable dtype. */
    public String torchName() {
        return switch (this) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F64 -> "float64";
            default -> name().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
