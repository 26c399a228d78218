import Neural
import TestSupport
import XCTest

@testable import Backbones

/// The folded inference path (BatchNorm + ReLU6 folded into the convolutions, activation arena)
/// against the layer-by-layer path it replaces, on the same model and input.
final class FoldedInferenceTests: XCTestCase {
  func input(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let x = Tensor(shape: shape)
    for i in 0..<x.count { x[i] = g.uniform(-1, 1) }
    return x
  }

  /// Logits of both paths; prints the max difference relative to the largest logit.
  func compare(_ model: EfficientNetLite, _ x: Tensor, _ label: String,
               file: StaticString = #filePath, line: UInt = #line) {
    model.usesFoldedInference = false
    let expected = model.forward(x, mode: .inference).array
    model.usesFoldedInference = true
    let actual = model.forward(x, mode: .inference).array
    let scale = Double(expected.map { abs($0) }.max() ?? 1)
    let diff = assertClose(actual, expected, rtol: 1e-4, atol: 1e-4 * scale, label, file: file, line: line)
    print("\(label): folded vs layer-by-layer max diff \(diff) (scale \(scale), tolerance 1e-4 relative)")
  }

  func testFoldedMatchesLayerByLayerWithRandomStatistics() {
    let model = EfficientNetLite(.lite0, seed: 11)
    // Scratch BN has γ=1, β=0, μ=0, σ²=1; give every norm distinct statistics so folding matters.
    var g = SeededGenerator(seed: 12)
    for (name, t) in model.buffers where name.hasSuffix("running_mean") {
      for i in 0..<t.count { t[i] = g.uniform(-0.2, 0.2) }
    }
    for (name, t) in model.buffers where name.hasSuffix("running_var") {
      for i in 0..<t.count { t[i] = g.uniform(0.5, 2) }
    }
    for (name, p) in model.parameters where name.contains("_bn") {
      for i in 0..<p.value.count { p.value[i] = name.hasSuffix("weight") ? g.uniform(0.5, 1.5) : g.uniform(-0.3, 0.3) }
    }
    compare(model, input([2, 48, 40, 3], seed: 13), "scratch lite0, random BN statistics")
  }

  func testFoldedSeesTrainingBetweenCalls() {
    // Weights and statistics change between inference calls the way training changes them (a
    // training-mode forward moves the running statistics, an optimizer moves the weights); the
    // folded path must follow. (Real SGD steps on a scratch model make it too ill-conditioned,
    // pre-activations in the thousands against ReLU6's [0, 6], for a 1e-4 comparison.)
    let model = EfficientNetLite(.lite0, classes: 4, seed: 21)
    let x = input([4, 32, 32, 3], seed: 22)
    compare(model, x, "before training")
    _ = model.forward(x, mode: .training)
    var g = SeededGenerator(seed: 23)
    for (_, p) in model.parameters {
      for i in 0..<p.value.count { p.value[i] *= g.uniform(0.8, 1.2) }
    }
    compare(model, x, "after new running statistics and weights")
  }

  func testFoldedPretrainedAndGrayscale() throws {
    guard let path = PretrainedRegistry.cachedPath(for: "efficientnet-lite0") else {
      throw XCTSkip("efficientnet-lite0 weights not cached; run scripts/bootstrap --weights lite0")
    }
    let model = EfficientNetLite(.lite0)
    try model.load(StateDict(contentsOf: path))
    compare(model, input([1, 64, 64, 3], seed: 31), "pretrained lite0")
    model.adaptToGrayscale(.foldStem)
    compare(model, input([2, 40, 40, 1], seed: 32), "pretrained lite0, folded grayscale stem")
  }
}

