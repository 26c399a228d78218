import LinearAlgebra

/// Classification, domain-shift and transferability metrics on plain `[Float]` matrices.
public enum MetricCatalog {}
