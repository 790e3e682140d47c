package dev.upcycle.io;

import dev.upcycle.error.ErrorKind;
import dev.upcycle.error.UpcycleException;
import java.util.Arrays;

/**
 * A tensor shape, row-major. An empty shape is a scalar with one element; a zero dimension
 * makes an empty tensor. Dimensions are non-negative longs.
 */
public record Shape(long[] dims) {

    public Shape {
        dims = dims.clone();
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
            }
        }
    }

    public static Shape of(long... dims) {
        return new Shape(dims);
    }

    public int rank() {
        return dims.length;
    }

    public long dim(int i) {
        return dims[i];
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    /** Number of elements; throws ValidationOverflow when it does not fit in a long. */
    public long elements(String where) {
        long n = 1;
        for (long d : dims) {
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new UpcycleException(ErrorKind.ValidationOverflow, where,
                        "shape " + this + " has more than 2^63-1 elements");
            }
        }
        return n;
    }

    /** Number of elements, for shapes already validated. */
    public long elements() {
        return elements("shape");
    }

    /** Bytes taken by this shape in {@code dtype}; throws ValidationOverflow on 64-bit overflow. */
    public long byteSize(DType dtype, String where) {
        try {
            return Math.multiplyExact(elements(where), (long) dtype.bytes());
        } catch (ArithmeticException e) {
            throw new UpcycleException(ErrorKind.ValidationOverflow, where,
                    "shape " + this + " x " + dtype.bytes() + " bytes overflows 64 bits");
        }
    }

    /** Elements in one row (all dimensions after the first); 1 for rank 0 and 1. */
    public long rowElements() {
        long n = 1;
        for (int i = 1; i < dims.length; i++) {
            n = Math.multiplyExact(n, dims[i]);
        }
        return n;
    }

    /** Rows: the first dimension, or 1 for a scalar. */
    public long rows() {
        return dims.length == 0 ? 1 : dims[0];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
