import Neural
import Randomness
import TestSupport
import XCTest

@testable import Backbones

/// The folded inference path (BatchNorm + ReLU6 folded into the convolutions, activation arena)
/// against the layer-by-layer path it replaces, on the same model and input.
final class FoldedInferenceTests: XCTestCase {
  func input(_ shape: [Int], seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let x = Tensor(shape: shape)
    for i in 0..<x.count { x[i] = g.uniformFloat(-1, 1) }
    return x
  }

  /// Logits of both paths; prints the max difference relative to the largest logit.
  func compare(
    _ model: EfficientNetLite, _ x: Tensor, _ label: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    model.usesFoldedInference = false
    let expected = model.forward(x, mode: .inference).array
    model.usesFoldedInference = true
    let actual = model.forward(x, mode: .inference).array
    let scale = Double(expected.map { abs($0) }.max() ?? 1)
    let diff = assertClose(
      actual, expected, rtol: 1e-4, atol: 1e-4 * scale, label, file: file, line: line)
    print(
      "\(label): folded vs layer-by-layer max diff \(diff) (scale \(scale), tolerance 1e-4 relative)"
    )
  }

  func testFoldedMatchesLayerByLayerWithRandomStatistics() {
    let model = EfficientNetLite(.lite0, seed: 11)
    // Scratch BN has γ=1, β=0, μ=0, σ²=1; give every norm distinct statistics so folding matters.
    var g = SeededGenerator(seed: 12)
    for (name, t) in model.buffers where name.hasSuffix("running_mean") {
      for i in 0..<t.count { t[i] = g.uniformFloat(-0.2, 0.2) }
    }
    for (name, t) in model.buffers where name.hasSuffix("running_var") {
      for i in 0..<t.count { t[i] = g.uniformFloat(0.5, 2) }
    }
    for (name, p) in model.parameters where name.contains("_bn") {
      for i in 0..<p.value.count {
        p.value[i] = name.hasSuffix("weight") ? g.uniformFloat(0.5, 1.5) : g.uniformFloat(-0.3, 0.3)
      }
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
      for i in 0..<p.value.count { p.value[i] *= g.uniformFloat(0.8, 1.2) }
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

  /// `pooledFeatures(_:at:)` walks the network layer by layer: at `head_conv` it must give the
  /// folded penultimate features (which the logits' PyTorch parity covers), every layer has
  /// its stage's width, and a layer's features do not depend on what was tapped before.
  func testPooledFeaturesAtEveryLayer() throws {
    guard let path = PretrainedRegistry.cachedPath(for: "efficientnet-lite0") else {
      throw XCTSkip("efficientnet-lite0 weights not cached; run scripts/bootstrap --weights lite0")
    }
    let model = EfficientNetLite(.lite0)
    try model.load(StateDict(contentsOf: path))
    let x = input([2, 64, 64, 3], seed: 41)
    let folded = model.extractFeatures(x, mode: .inference).array
    let walked = model.pooledFeatures(x, at: "head_conv", layerByLayer: true).array
    let diff = assertClose(walked, folded, rtol: 1e-4, atol: 1e-4, "head_conv tap")
    print("head_conv tap vs folded features: max diff \(diff)")
    XCTAssertEqual(model.pooledFeatures(x, at: "head_conv").array, folded)
    XCTAssertEqual(
      EfficientNetLite.featureLayers,
      ["stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head_conv"])
    let widths = [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    var first: [String: [Float]] = [:]
    for (layer, width) in zip(EfficientNetLite.featureLayers, widths) {
      XCTAssertEqual(model.featureWidth(at: layer), width, layer)
      let f = model.pooledFeatures(x, at: layer)
      XCTAssertEqual(f.shape, [2, width], layer)
      XCTAssertTrue(f.array.allSatisfy { $0.isFinite }, layer)
      // Pooled ReLU6 outputs lie in [0, 6]; the stages end in a linear projection (any sign).
      if layer == "stem" || layer == "head_conv" {
        XCTAssertTrue(f.array.allSatisfy { $0 >= 0 && $0 <= 6 }, layer)
      }
      first[layer] = f.array
    }
    for layer in EfficientNetLite.featureLayers.reversed() {
      XCTAssertEqual(model.pooledFeatures(x, at: layer).array, first[layer], "\(layer) again")
    }
    XCTAssertNil(model.featureWidth(at: "stage8"))
    // Distinct images give distinct features at every layer (the tap is not a constant).
    for layer in EfficientNetLite.featureLayers {
      let f = first[layer]!
      let w = f.count / 2
      XCTAssertNotEqual(Array(f[0..<w]), Array(f[w...]), layer)
    }
  }
}
