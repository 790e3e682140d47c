package dev.upcycle.model;

/** How bad a {@link Finding} is: errors stop a conversion, warnings are reported and passed. */
public enum Severity { ERROR, WARNING }
