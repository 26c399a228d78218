import Foundation
import Neural

/// What AdaBN and frozen-statistics training need from a BatchNorm layer.
///
/// Neural's `BatchNorm2d` conforms (see `BatchNorm2d+Adaptation.swift`); any layer that keeps
/// running statistics updated as running = (1 − m)·running + m·batch can.
public protocol RunningStatistics: AnyObject {
  /// The running mean per channel.
  var runningMean: Tensor { get }
  /// The running (unbiased) variance per channel.
  var runningVariance: Tensor { get }
  /// The batch counter buffer, if the layer keeps one.
  var batchesTracked: Tensor? { get }
  /// When true, training-mode passes normalise with the running statistics and leave them as
  /// they are (PyTorch: the BN module in `eval()` inside a model in `train()`).
  var statisticsFrozen: Bool { get set }
  /// The running-average factor m.
  var statisticsMomentum: Float { get set }
}

/// One stage of a backbone: a name and the parameter-name prefixes it owns.
public struct BackboneStage: Codable, Equatable, Sendable {
  /// `stem`, `stage1`, …, `top`.
  public var name: String
  /// State-dict prefixes (`_conv_stem.`, `_blocks.3.`).
  public var prefixes: [String]

  /// Creates a stage.
  public init(name: String, prefixes: [String]) {
    self.name = name
    self.prefixes = prefixes
  }

  func owns(_ name: String) -> Bool { prefixes.contains { name.hasPrefix($0) } }
}

/// A backbone producing penultimate features (N, D) and a new classifier head on top.
///
/// Strategies, regularizers, AdaBN and CORAL all act on this: the backbone's named parameters
/// grouped into stages, its BatchNorm layers, and the head.
public final class TransferModel {
  /// Images (N, H, W, C) → pooled penultimate features (N, D).
  public let backbone: Layer
  /// Features → logits.
  public let head: ClassifierHead
  /// The backbone's stages, stem side first.
  public let stages: [BackboneStage]
  /// Every BatchNorm of the backbone: a name, the index of its stage, the layer.
  public let batchNorms: [(name: String, stage: Int, layer: RunningStatistics)]
  /// Feature width D.
  public var featureDimension: Int { head.inputFeatures }
  /// Where a frozen backbone's features are kept between runs (a study's `features/`); nil:
  /// computed every time. Never changes a result, only how often the backbone runs.
  public var featureStore: FeatureStore?

  /// Creates a model. Every backbone parameter must belong to exactly one stage.
  public init(
    backbone: Layer, head: ClassifierHead, stages: [BackboneStage],
    batchNorms: [(name: String, stage: Int, layer: RunningStatistics)]
  ) {
    self.backbone = backbone
    self.head = head
    self.stages = stages
    self.batchNorms = batchNorms
    for (name, _) in backbone.parameters {
      let owners = stages.indices.filter { stages[$0].owns(name) }
      precondition(
        owners.count == 1,
        "Backbone parameter \(name) belongs to \(owners.count) stages; it needs exactly one.")
    }
  }

  /// The stage index of a backbone parameter (nil: not in the backbone).
  public func stage(of name: String) -> Int? {
    stages.firstIndex { $0.owns(name) }
  }

  /// Backbone parameters, PyTorch-named.
  public var backboneParameters: [(name: String, parameter: Parameter)] { backbone.parameters }

  /// Every parameter: backbone then head (head names start with `_fc`).
  public var allParameters: [(name: String, parameter: Parameter)] {
    backbone.parameters + head.parameters
  }

  /// Every tensor a checkpoint holds, in the layers' own layout: parameters and buffers.
  public var stateTensors: [(name: String, tensor: Tensor)] {
    allParameters.map { ($0.name, $0.parameter.value) } + backbone.buffers
  }

  /// A name → values copy of every state tensor (parameters and buffers), for `restoreState`.
  func stateSnapshot() -> [String: [Float]] {
    Dictionary(stateTensors.map { ($0.name, $0.tensor.array) }, uniquingKeysWith: { a, _ in a })
  }

  /// Writes a `stateSnapshot()` back (tensors it does not name, or of another size, are kept).
  func restoreState(_ snapshot: [String: [Float]]) {
    for (name, t) in stateTensors {
      if let v = snapshot[name], v.count == t.count {
        v.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
      }
    }
  }

  /// Logits for images (N, H, W, C).
  public func logits(_ images: Tensor, mode: Mode) -> Tensor {
    head.forward(backbone.forward(images, mode: mode), mode: mode)
  }

  /// Clears every gradient.
  public func zeroGrad() {
    backbone.zeroGrad()
    head.zeroGrad()
  }
}
