import Foundation
import Metrics
import Neural
import Randomness

/// The new classifier put on a backbone's penultimate features: optional hidden layer (ReLU6),
/// dropout, then `Linear` to the target classes.
///
/// Parameter names follow the EfficientNet state dict (`_fc.weight`, `_fc.bias`; the hidden
/// layer is `_fc_hidden.*`) so a checkpoint of backbone + head reads like a PyTorch one.
/// Linear weights are (out, in), PyTorch's layout. Initialisation is PyTorch's `nn.Linear`
/// default (uniform ±1/√fan_in for weights and biases), seeded.
public final class ClassifierHead: Layer {
  /// Input feature width.
  public let inputFeatures: Int
  /// Hidden width, nil for a single linear layer.
  public let hiddenUnits: Int?
  /// Number of classes.
  public let classes: Int
  /// Dropout rate applied before the last linear layer in training mode.
  public let dropout: Float

  let hiddenWeight: Parameter?
  let hiddenBias: Parameter?
  let weight: Parameter
  let bias: Parameter
  private var generator: SeededGenerator
  // Saved for backward.
  private var input: [Float] = []
  private var hidden: [Float] = []  // after ReLU6, before dropout
  private var mask: [Float] = []  // dropout scale per element of the last layer's input
  private var lastInput: [Float] = []
  private var batch = 0

  /// Creates a head for `inputFeatures` → `classes`, initialised from `seed`.
  public init(
    inputFeatures: Int, classes: Int, hiddenUnits: Int? = nil, dropout: Float = 0.2,
    seed: UInt64 = 0
  ) {
    precondition(
      inputFeatures > 0 && classes > 1,
      "A classifier head needs a positive feature width and at least two classes.")
    precondition(dropout >= 0 && dropout < 1, "Dropout must be in [0, 1), got \(dropout).")
    self.inputFeatures = inputFeatures
    self.hiddenUnits = hiddenUnits
    self.classes = classes
    self.dropout = dropout
    var g = SeededGenerator(seed: seed ^ 0x4EAD)
    let finalInput = hiddenUnits ?? inputFeatures
    if let h = hiddenUnits {
      hiddenWeight = ClassifierHead.uniform([h, inputFeatures], fanIn: inputFeatures, &g)
      hiddenBias = ClassifierHead.uniform([h], fanIn: inputFeatures, &g)
    } else {
      hiddenWeight = nil
      hiddenBias = nil
    }
    weight = ClassifierHead.uniform([classes, finalInput], fanIn: finalInput, &g)
    bias = ClassifierHead.uniform([classes], fanIn: finalInput, &g)
    generator = g
  }

  // PyTorch nn.Linear's default: U(−1/√fan_in, 1/√fan_in) for weight and bias.
  private static func uniform(_ shape: [Int], fanIn: Int, _ g: inout SeededGenerator) -> Parameter {
    let bound = 1 / Float(fanIn).squareRoot()
    let n = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: n)
    for i in 0..<n { values[i] = g.uniformFloat(-bound, bound) }
    return Parameter(Tensor(shape: shape, values: values))
  }

  /// The head's parameters, PyTorch-named.
  public var parameters: [(name: String, parameter: Parameter)] {
    var p: [(name: String, parameter: Parameter)] = []
    if let hw = hiddenWeight, let hb = hiddenBias {
      p += [("_fc_hidden.weight", hw), ("_fc_hidden.bias", hb)]
    }
    return p + [("_fc.weight", weight), ("_fc.bias", bias)]
  }

  /// Makes this (linear) head compute a fitted multinomial logistic regression on its input:
  /// weight[k][j] = W[j][k]/σ_j and bias[k] = b_k − Σ_j W[j][k]·μ_j/σ_j, folding the
  /// regression's feature standardisation into the layer (computed in double, stored as Float).
  public func setLinear(logisticRegression fit: LogisticRegression) {
    precondition(hiddenUnits == nil, "Only a linear head can hold a logistic regression.")
    precondition(
      fit.featureCount == inputFeatures && fit.classCount == classes,
      "The regression has \(fit.featureCount) features × \(fit.classCount) classes; the head \(inputFeatures) × \(classes)."
    )
    let d = inputFeatures
    for k in 0..<classes {
      var b = fit.bias[k]
      for j in 0..<d {
        let w = fit.weights[j * classes + k] / fit.featureScale[j]
        weight.value[k * d + j] = Float(w)
        b -= w * fit.featureMean[j]
      }
      bias.value[k] = Float(b)
    }
  }

  /// Reseeds dropout (so a resumed or repeated run draws the same masks).
  public func reseedDropout(_ seed: UInt64) { generator = SeededGenerator(seed: seed ^ 0xD809) }

  // y = x Wᵀ + b, x: (N, in), W: (out, in) — torch.nn.functional.linear
  private static func linear(_ x: [Float], _ n: Int, _ w: Parameter, _ b: Parameter) -> [Float] {
    let out = w.value.shape[0]
    let inp = w.value.shape[1]
    var y = [Float](repeating: 0, count: n * out)
    let wd = w.value.data
    let bd = b.value.data
    x.withUnsafeBufferPointer { xp in
      y.withUnsafeMutableBufferPointer { yp in
        for r in 0..<n {
          let xr = xp.baseAddress! + r * inp
          for o in 0..<out {
            let wr = wd + o * inp
            var s: Float = 0
            for i in 0..<inp { s += xr[i] * wr[i] }
            yp[r * out + o] = s + bd[o]
          }
        }
      }
    }
    return y
  }

  // dx = dy W, dW += dyᵀ x, db += Σ dy — backward of torch.nn.functional.linear
  private static func linearBackward(
    _ dy: [Float], _ x: [Float], _ n: Int, _ w: Parameter,
    _ b: Parameter, needInput: Bool
  ) -> [Float] {
    let out = w.value.shape[0]
    let inp = w.value.shape[1]
    let wd = w.value.data
    if !w.frozen {
      let gw = w.grad.data
      let gb = b.grad.data
      for r in 0..<n {
        for o in 0..<out {
          let d = dy[r * out + o]
          if d == 0 { continue }
          gb[o] += d
          let g = gw + o * inp
          for i in 0..<inp { g[i] += d * x[r * inp + i] }
        }
      }
    }
    guard needInput else { return [] }
    var dx = [Float](repeating: 0, count: n * inp)
    for r in 0..<n {
      for o in 0..<out {
        let d = dy[r * out + o]
        if d == 0 { continue }
        let wr = wd + o * inp
        for i in 0..<inp { dx[r * inp + i] += d * wr[i] }
      }
    }
    return dx
  }

  /// features (N, in) → logits (N, classes).
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    precondition(
      x.shape.count == 2 && x.shape[1] == inputFeatures,
      "ClassifierHead expects (N, \(inputFeatures)) features, got \(x.shape).")
    let n = x.shape[0]
    batch = n
    var a = x.array
    if mode == .training { input = a }
    if let hw = hiddenWeight, let hb = hiddenBias {
      a = ClassifierHead.linear(a, n, hw, hb)
      for i in 0..<a.count { a[i] = min(max(a[i], 0), 6) }
      if mode == .training { hidden = a }
    }
    if mode == .training && dropout > 0 {
      let keep = 1 - dropout
      mask = (0..<a.count).map { _ in generator.unitFloat() < keep ? 1 / keep : 0 }
      for i in 0..<a.count { a[i] *= mask[i] }
    } else {
      mask = []
    }
    if mode == .training { lastInput = a }
    let y = ClassifierHead.linear(a, n, weight, bias)
    return Tensor(shape: [n, classes], values: y)
  }

  /// dL/dlogits (N, classes) → dL/dfeatures (N, in); accumulates parameter gradients.
  public func backward(_ dy: Tensor) -> Tensor {
    let n = batch
    precondition(
      dy.shape == [n, classes], "ClassifierHead.backward got \(dy.shape), expected \([n, classes])."
    )
    var d = ClassifierHead.linearBackward(dy.array, lastInput, n, weight, bias, needInput: true)
    if !mask.isEmpty { for i in 0..<d.count { d[i] *= mask[i] } }
    if let hw = hiddenWeight, let hb = hiddenBias {
      for i in 0..<d.count where hidden[i] <= 0 || hidden[i] >= 6 { d[i] = 0 }
      d = ClassifierHead.linearBackward(d, input, n, hw, hb, needInput: true)
    }
    return Tensor(shape: [n, inputFeatures], values: d)
  }
}
