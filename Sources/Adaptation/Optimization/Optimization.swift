import Foundation
import Neural

/// Row-wise softmax for predictions (training uses Neural's `SoftmaxCrossEntropy`).
enum Softmax {
  /// Softmax of (n × k) logits, max-subtracted, row-major.
  static func probabilities(_ logits: [Float], rows n: Int, classes k: Int) -> [Float] {
    var p = [Float](repeating: 0, count: n * k)
    for r in 0..<n {
      var m = -Float.infinity
      for c in 0..<k { m = max(m, logits[r * k + c]) }
      var s: Float = 0
      for c in 0..<k {
        let e = expf(logits[r * k + c] - m)
        p[r * k + c] = e
        s += e
      }
      for c in 0..<k { p[r * k + c] /= s }
    }
    return p
  }
}

extension TransferModel {
  /// Inference-mode class probabilities for images (N, H, W, C): (N × classes), row-major.
  public func probabilities(_ images: Tensor) -> [Float] {
    Softmax.probabilities(
      logits(images, mode: .inference).array, rows: images.shape[0], classes: head.classes)
  }

  /// The optimizer `configuration` asks for over the trained parameters: SGD with momentum
  /// (coupled weight decay) or AdamW (decoupled), the backbone group at
  /// `backboneLearningRateScale` × the head's learning rate.
  public func makeOptimizer(_ configuration: TrainingConfiguration) -> Optimizer {
    let groups = parameterGroups(
      learningRate: configuration.learningRate,
      backboneScale: configuration.backboneLearningRateScale,
      weightDecay: configuration.weightDecay)
    switch configuration.optimizer {
    case .sgd: return SGD(groups: groups, momentum: Float(configuration.momentum))
    case .adamw: return AdamW(groups: groups)
    }
  }
}
