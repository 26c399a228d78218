import Foundation
import Neural

/// A set of parameters sharing a learning-rate scale (e.g. backbone at 0.1× the head).
public struct ParameterGroup {
  /// Group name (`backbone`, `head`).
  public var name: String
  /// The parameters, PyTorch-named.
  public var parameters: [(name: String, parameter: Parameter)]
  /// Multiplies the scheduled learning rate.
  public var learningRateScale: Double

  /// Creates a group.
  public init(name: String, parameters: [(name: String, parameter: Parameter)],
              learningRateScale: Double = 1) {
    self.name = name
    self.parameters = parameters
    self.learningRateScale = learningRateScale
  }
}

/// SGD with momentum (coupled weight decay) or AdamW (decoupled weight decay) over parameter
/// groups; frozen parameters are skipped.
///
/// A stand-in until Neural's optimizers are merged: same update rules as torch.optim.SGD
/// (dampening 0) and torch.optim.AdamW.
public final class GroupOptimizer {
  /// The family.
  public let kind: OptimizerKind
  /// The groups.
  public let groups: [ParameterGroup]
  /// Weight decay (coupled for SGD, decoupled for AdamW).
  public let weightDecay: Float
  /// SGD momentum.
  public let momentum: Float
  /// AdamW betas and epsilon.
  public let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
  /// Steps taken.
  public private(set) var stepCount = 0
  private var first: [ObjectIdentifier: [Float]] = [:]
  private var second: [ObjectIdentifier: [Float]] = [:]

  /// Creates an optimizer.
  public init(kind: OptimizerKind, groups: [ParameterGroup], weightDecay: Double,
              momentum: Double = 0.9) {
    self.kind = kind
    self.groups = groups
    self.weightDecay = Float(weightDecay)
    self.momentum = Float(momentum)
  }

  /// Applies one update with base learning rate `learningRate` (times each group's scale).
  public func step(learningRate: Double) {
    stepCount += 1
    let t = Float(stepCount)
    for group in groups {
      let lr = Float(learningRate * group.learningRateScale)
      for (_, p) in group.parameters where !p.frozen {
        let n = p.value.count
        let w = p.value.data
        let g = p.grad.data
        let id = ObjectIdentifier(p)
        switch kind {
        case .sgd:
          var buf = first[id] ?? []
          let fresh = buf.isEmpty
          if fresh { buf = [Float](repeating: 0, count: n) }
          for i in 0..<n {
            let d = g[i] + weightDecay * w[i]
            buf[i] = fresh ? d : momentum * buf[i] + d
            w[i] -= lr * buf[i]
          }
          first[id] = buf
        case .adamw:
          var m = first[id] ?? [Float](repeating: 0, count: n)
          var v = second[id] ?? [Float](repeating: 0, count: n)
          let c1 = 1 - powf(beta1, t)
          let c2 = 1 - powf(beta2, t)
          for i in 0..<n {
            w[i] -= lr * weightDecay * w[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon)
          }
          first[id] = m
          second[id] = v
        }
      }
    }
  }
}

/// Cosine decay to zero after a linear warmup, per step.
public struct CosineSchedule: Codable, Equatable, Sendable {
  /// Peak learning rate.
  public var peak: Double
  /// Warmup steps (linear from peak/warmup to peak).
  public var warmupSteps: Int
  /// Total steps.
  public var totalSteps: Int

  /// Creates a schedule.
  public init(peak: Double, warmupSteps: Int, totalSteps: Int) {
    self.peak = peak
    self.warmupSteps = warmupSteps
    self.totalSteps = max(totalSteps, 1)
  }

  /// The learning rate for 0-based `step`.
  public func learningRate(at step: Int) -> Double {
    if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
    let span = max(totalSteps - warmupSteps, 1)
    let progress = min(Double(step - warmupSteps) / Double(span), 1)
    return peak * 0.5 * (1 + cos(Double.pi * progress))
  }
}
