import Foundation
import Metrics
import Neural
import Randomness

/// The new classifier put on a backbone's penultimate features: optional hidden layer (ReLU6),
/// dropout, then `Linear` to the target classes — a composition of Neural's `Linear`, `ReLU6`
/// and `Dropout` (whose backward passes are the ones `ClassifierHeadGradientTests` checks).
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

  let hiddenLayer: Linear?
  let output: Linear
  private let dropoutLayer: Dropout
  private let layers: Sequential

  /// The last layer's weight (classes, features).
  var weight: Parameter { output.weight }
  /// The last layer's bias (classes).
  var bias: Parameter { output.bias! }

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
    // One stream initialises the layers in order (hidden weight, hidden bias, weight, bias),
    // then draws the dropout masks.
    var g = SeededGenerator(seed: seed ^ 0x4EAD)
    var named: [(String, Layer)] = []
    if let h = hiddenUnits {
      let hidden = Linear(inputFeatures: inputFeatures, outputFeatures: h, initializingWith: &g)
      hiddenLayer = hidden
      named += [("_fc_hidden", hidden), ("_fc_hidden_relu6", ReLU6())]
    } else {
      hiddenLayer = nil
    }
    output = Linear(
      inputFeatures: hiddenUnits ?? inputFeatures, outputFeatures: classes, initializingWith: &g)
    dropoutLayer = Dropout(probability: dropout, generator: g)
    layers = Sequential(named + [("_dropout", dropoutLayer), ("_fc", output)])
  }

  /// The head's parameters, PyTorch-named.
  public var parameters: [(name: String, parameter: Parameter)] { layers.parameters }

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
  public func reseedDropout(_ seed: UInt64) { dropoutLayer.reseed(seed ^ 0xD809) }

  /// features (N, in) → logits (N, classes), a tensor of its own.
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    precondition(
      x.shape.count == 2 && x.shape[1] == inputFeatures,
      "ClassifierHead expects (N, \(inputFeatures)) features, got \(x.shape).")
    return layers.forward(x, mode: mode).clone()
  }

  /// dL/dlogits (N, classes) → dL/dfeatures (N, in); accumulates parameter gradients.
  public func backward(_ dy: Tensor) -> Tensor {
    precondition(
      dy.shape.count == 2 && dy.shape[1] == classes,
      "ClassifierHead.backward got \(dy.shape), expected (N, \(classes)).")
    return layers.backward(dy).clone()
  }
}
