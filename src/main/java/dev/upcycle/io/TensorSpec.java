package dev.upcycle.io;

/** A tensor to be written: what the header will say before any data exists. */
public record TensorSpec(String name, DType dtype, Shape shape) {

    public long byteSize() {
        return shape.byteSize(dtype, name);
    }
}
