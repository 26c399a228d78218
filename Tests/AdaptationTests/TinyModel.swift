import Foundation
import Neural
import Randomness

@testable import Adaptation

/// A three-stage convolutional backbone small enough to train in milliseconds, built from
/// Neural's real layers: stem (conv 3×3 s2 + BN + ReLU6), stage1 (conv 3×3 s2 + BN), stage2
/// (conv 1×1 + BN), global average pool → 8 features.
func makeTinyModel(classes: Int = 3, channels: Int = 1, dropout: Float = 0, seed: UInt64 = 1)
  -> TransferModel
{
  let stemBN = BatchNorm2d(channels: 4, eps: 1e-3, activation: .relu6)
  let bn1 = BatchNorm2d(channels: 8, eps: 1e-3, activation: .relu6)
  let bn2 = BatchNorm2d(channels: 8, eps: 1e-3, activation: .relu6)
  let backbone = Sequential([
    (
      "stem",
      Sequential([
        (
          "conv",
          Conv2d(
            inputChannels: channels, outputChannels: 4, kernelSize: 3, stride: 2,
            padding: .same)
        ),
        ("bn", stemBN),
      ])
    ),
    (
      "stage1",
      Sequential([
        (
          "conv",
          Conv2d(
            inputChannels: 4, outputChannels: 8, kernelSize: 3, stride: 2,
            padding: .same)
        ),
        ("bn", bn1),
      ])
    ),
    (
      "stage2",
      Sequential([
        ("conv", Conv2d(inputChannels: 8, outputChannels: 8, kernelSize: 1)),
        ("bn", bn2),
      ])
    ),
    ("pool", GlobalAveragePool()),
  ])
  backbone.resetParameters(seed: seed)
  let head = ClassifierHead(inputFeatures: 8, classes: classes, dropout: dropout, seed: seed)
  return TransferModel(
    backbone: backbone, head: head,
    stages: [
      BackboneStage(name: "stem", prefixes: ["stem."]),
      BackboneStage(name: "stage1", prefixes: ["stage1."]),
      BackboneStage(name: "stage2", prefixes: ["stage2."]),
    ],
    batchNorms: [("stem.bn", 0, stemBN), ("stage1.bn", 1, bn1), ("stage2.bn", 2, bn2)])
}

/// n images of 8×8×channels whose class is visible in where the bright blob sits, plus noise.
func makeTinyImages(
  _ n: Int, classes: Int = 3, channels: Int = 1, seed: UInt64 = 7,
  shift: Float = 0, domain: String? = nil
) -> ImageSet {
  var g = SeededGenerator(seed: seed)
  let t = Tensor(shape: [n, 8, 8, channels])
  var labels: [Int] = []
  for i in 0..<n {
    let y = i % classes
    labels.append(y)
    for h in 0..<8 {
      for w in 0..<8 {
        let blob: Float = (w / 3 == y && h >= 2 && h < 6) ? 2 : 0
        for c in 0..<channels {
          t[((i * 8 + h) * 8 + w) * channels + c] = blob + shift + g.uniformFloat(-0.5, 0.5)
        }
      }
    }
  }
  return ImageSet(
    images: t, labels: labels, classes: (0..<classes).map { "c\($0)" },
    domains: domain.map { d in Array(repeating: d, count: n) },
    subgroups: (0..<n).map { [$0 % 2 == 0 ? "sex=F" : "sex=M"] })
}

/// Copies of every parameter and buffer, by name.
func checksums(_ model: TransferModel) -> [String: [Float]] {
  var out: [String: [Float]] = [:]
  for (name, p) in model.allParameters { out[name] = p.value.array }
  for (name, t) in model.backbone.buffers { out[name] = t.array }
  return out
}

/// A factory for SinglePhaseProtocol and SourceTargetProtocol tests.
func tinyFactory(_ configuration: TrainingConfiguration, _ classes: Int, _ channels: Int) throws
  -> TransferModel
{
  makeTinyModel(
    classes: classes, channels: channels, dropout: Float(configuration.dropout),
    seed: UInt64(configuration.seed) &+ 1)
}

/// A configuration that trains the tiny model in a few steps: batches of 8, learning rate 0.01,
/// no early stopping, no dropout.
func tinyConfiguration(_ strategy: Strategy = .full, epochs: Int = 3) -> TrainingConfiguration {
  var c = TrainingConfiguration()
  c.strategy = strategy
  c.epochs = epochs
  c.batchSize = 8
  c.learningRate = 1e-2
  c.patience = nil
  c.dropout = 0
  return c
}
