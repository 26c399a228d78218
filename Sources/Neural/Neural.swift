import LinearAlgebra

/// The training engine: tensors, kernels, layers, losses and optimizers on OpenBLAS.
/// (Filled in by the Neural + Backbones work; see DESIGN.md.)
public enum NeuralEngine {
  /// Number of threads BLAS uses.
  public static var blasThreads: Int { BLAS.threads }
}
