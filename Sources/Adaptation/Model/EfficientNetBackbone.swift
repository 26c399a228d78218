import Backbones
import Foundation
import Neural

/// EfficientNet-Lite's feature extractor (stem … global average pool, 1280 features) as the
/// backbone of a `TransferModel`. The network's own classifier is not used: the model's
/// `ClassifierHead` replaces it, so cached-feature training needs only the head.
public final class EfficientNetBackbone: Layer {
  /// The wrapped network (its `features` are what this layer runs).
  public let network: EfficientNetLite

  /// Wraps `network`.
  public init(_ network: EfficientNetLite) { self.network = network }

  public var kind: String { "EfficientNetLite.features" }

  /// Named like the PyTorch state dict (`_conv_stem.weight`, `_blocks.3._bn1.running_mean`).
  public var parameters: [(name: String, parameter: Parameter)] { network.features.parameters }
  public var buffers: [(name: String, tensor: Tensor)] { network.features.buffers }

  // x: (N, H, W, C) -> (N, 1280)
  public func forward(_ x: Tensor, mode: Mode) -> Tensor {
    network.extractFeatures(x, mode: mode)
  }

  // dL/dfeatures (N, 1280) -> dL/dx (zeros: the stem computes no input gradient)
  public func backward(_ dy: Tensor) -> Tensor {
    network.featuresBackward(dy)
  }
}

/// Model factories: how `--init pretrained:NAME|scratch:NAME` becomes a `TransferModel`.
public enum ModelFactories {
  /// EfficientNet-Lite (pretrained from the registry, or He fan-out initialised from the seed),
  /// grayscale input folded into the stem, and a new `ClassifierHead`.
  public static func efficientNet(
    _ configuration: TrainingConfiguration, classes: Int,
    channels: Int
  ) throws -> TransferModel {
    let network: EfficientNetLite
    let seed = UInt64(configuration.seed)
    switch configuration.initialization {
    case .pretrained(let name):
      network = try EfficientNetLite.pretrained(name)
    case .scratch(let name):
      network = EfficientNetLite(
        try PretrainedRegistry.weights(named: name).configuration,
        seed: seed)
      network.initializeFromScratch(seed: seed &+ 0x5C2A7C)
    }
    if channels == 1 { network.adaptToGrayscale(.foldStem) }
    let backbone = EfficientNetBackbone(network)
    var stages: [BackboneStage] = []
    var norms: [(name: String, stage: Int, layer: RunningStatistics)] = []
    for stage in network.stages where stage.name != "classifier" {
      let index = stages.count
      stages.append(BackboneStage(name: stage.name, prefixes: stage.parameters.map(\.name)))
      for (j, bn) in stage.batchNorms.enumerated() {
        norms.append((name: "\(stage.name).bn\(j)", stage: index, layer: bn))
      }
    }
    let head = ClassifierHead(
      inputFeatures: network.featureCount, classes: classes,
      hiddenUnits: configuration.hiddenUnits,
      dropout: Float(configuration.dropout), seed: seed &+ 0x4EAD)
    return TransferModel(backbone: backbone, head: head, stages: stages, batchNorms: norms)
  }

  /// The default factory (`efficientNet`).
  public static let standard: ModelFactory = { try efficientNet($0, classes: $1, channels: $2) }

  /// `standard`, with every model keeping its frozen backbone's features in `store`: what
  /// studies (`<study>/features/`) and `train` (`FeatureStore.defaultRoot`) build models with.
  public static func standard(storingFeaturesIn store: FeatureStore) -> ModelFactory {
    { configuration, classes, channels in
      let model = try efficientNet(configuration, classes: classes, channels: channels)
      model.featureStore = store
      return model
    }
  }

  /// The weight file and SHA-256 behind `initialization` (nil for scratch).
  public static func weightsProvenance(_ initialization: Initialization) throws
    -> WeightsProvenance?
  {
    guard case .pretrained(let name) = initialization else { return nil }
    let weights = try PretrainedRegistry.weights(named: name)
    return WeightsProvenance(name: weights.name, file: weights.fileName, sha256: weights.sha256)
  }
}
