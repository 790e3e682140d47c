package dev.upcycle.io;

/**
 * One entry of a safetensors header, validated: {@code end - begin == shape bytes}.
 *
 * @param begin offset of the first byte, relative to the start of the data buffer
 * @param end   exclusive end offset, relative to the start of the data buffer
 */
public record TensorHeader(String name, DType dtype, Shape shape, long begin, long end) {

    /** Bytes of data. */
    public long byteSize() {
        return end - begin;
    }

    public long elements() {
        return shape.elements();
    }
}
