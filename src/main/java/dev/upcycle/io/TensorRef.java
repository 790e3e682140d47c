package dev.upcycle.io;

/** A tensor and the open file that holds it. */
public record TensorRef(SafetensorsFile file, TensorHeader header) {
    public String name() {
        return header.name();
    }
}
