// Optimizers and learning-rate schedules, with PyTorch's update rules.
//
//   ParameterGroup(parameters, learningRate:, weightDecay:)   per-group lr and weight decay.
//   SGD(groups:momentum:dampening:nesterov:)     torch.optim.SGD (coupled weight decay:
//                                                g += wd·p; buf = μ·buf + (1−dampening)·g,
//                                                first step buf = g; Nesterov g += μ·buf).
//   AdamW(groups:beta1:beta2:eps:)               torch.optim.AdamW (decoupled: p *= 1 − lr·wd).
//   optimizer.step() / .zeroGrad()               frozen parameters are skipped.
//   optimizer.stateDict() / .loadStateDict(_:)   moments and buffers by parameter name
//                                                (PyTorch's names: exp_avg, exp_avg_sq, step,
//                                                momentum_buffer), for exact resumption.
//   optimizer.learningRateFactor = schedule.factor(at: step)   scales every group's base lr.
//   CosineSchedule(warmupSteps:totalSteps:minimumFactor:), StepSchedule(stepSize:gamma:),
//   ConstantSchedule().

import Foundation

/// Parameters sharing a learning rate and weight decay (PyTorch's `param_groups` entry).
public struct ParameterGroup {
  /// Named parameters (names are informational; state is keyed by identity).
  public var parameters: [(name: String, parameter: Parameter)]
  /// Base learning rate (before `learningRateFactor`).
  public var learningRate: Double
  /// Weight decay: coupled (added to the gradient) for SGD, decoupled for AdamW.
  public var weightDecay: Double

  /// Creates a group.
  public init(
    _ parameters: [(name: String, parameter: Parameter)], learningRate: Double,
    weightDecay: Double = 0
  ) {
    self.parameters = parameters
    self.learningRate = learningRate
    self.weightDecay = weightDecay
  }
}

/// Updates parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
  /// The parameter groups.
  var groups: [ParameterGroup] { get set }
  /// Multiplies every group's base learning rate (set it from a schedule each step).
  var learningRateFactor: Double { get set }
  /// Applies one update to every non-frozen parameter.
  func step()
  /// Everything `step()` remembers between calls, keyed `<parameter name>.<state name>`: what a
  /// resumed run must restore to continue exactly as an uninterrupted one.
  func stateDict() -> [(name: String, tensor: Tensor)]
  /// Restores a `stateDict()` strictly: an unknown key or a shape mismatch throws.
  func loadStateDict(_ tensors: [String: Tensor]) throws
}

extension Optimizer {
  /// Parameter by name over every group.
  func parameterNamed() -> [String: Parameter] {
    var out: [String: Parameter] = [:]
    for g in groups { for (name, p) in g.parameters { out[name] = p } }
    return out
  }

  /// Splits `<parameter>.<state>` keys of `tensors` into (parameter, state name, tensor),
  /// throwing for keys that name no parameter or no known state.
  func resolve(_ tensors: [String: Tensor], states: Set<String>) throws
    -> [(parameter: Parameter, state: String, tensor: Tensor)]
  {
    let byName = parameterNamed()
    var out: [(parameter: Parameter, state: String, tensor: Tensor)] = []
    var unknown: [String] = []
    for (key, t) in tensors {
      guard let dot = key.lastIndex(of: "."),
        states.contains(String(key[key.index(after: dot)...])),
        let p = byName[String(key[..<dot])]
      else {
        unknown.append(key)
        continue
      }
      let state = String(key[key.index(after: dot)...])
      if state != "step" && t.shape != p.value.shape {
        throw NeuralError.shapeMismatch(key: key, expected: p.value.shape, actual: t.shape)
      }
      out.append((p, state, t))
    }
    if !unknown.isEmpty { throw NeuralError.unexpectedKeys(keys: unknown.sorted()) }
    return out
  }

  /// Clears every parameter's gradient.
  public func zeroGrad() {
    for g in groups { for (_, p) in g.parameters { p.zeroGrad() } }
  }
}

/// Stochastic gradient descent with momentum (PyTorch `torch.optim.SGD`).
public final class SGD: Optimizer {
  public var groups: [ParameterGroup]
  public var learningRateFactor: Double = 1
  public let momentum: Float
  public let dampening: Float
  public let nesterov: Bool
  private var buffers: [ObjectIdentifier: Tensor] = [:]

  /// Creates SGD over `groups`.
  public init(
    groups: [ParameterGroup], momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false
  ) {
    precondition(
      !nesterov || (momentum > 0 && dampening == 0),
      "Nesterov momentum needs momentum > 0 and zero dampening (as in PyTorch).")
    self.groups = groups
    self.momentum = momentum
    self.dampening = dampening
    self.nesterov = nesterov
  }

  /// Creates SGD with one group.
  public convenience init(
    parameters: [(name: String, parameter: Parameter)], learningRate: Double,
    momentum: Float = 0, weightDecay: Double = 0, nesterov: Bool = false
  ) {
    self.init(
      groups: [ParameterGroup(parameters, learningRate: learningRate, weightDecay: weightDecay)],
      momentum: momentum, nesterov: nesterov)
  }

  public func stateDict() -> [(name: String, tensor: Tensor)] {
    var out: [(name: String, tensor: Tensor)] = []
    for g in groups {
      for (name, p) in g.parameters {
        if let buf = buffers[ObjectIdentifier(p)] {
          out.append((name + ".momentum_buffer", buf.clone()))
        }
      }
    }
    return out
  }

  public func loadStateDict(_ tensors: [String: Tensor]) throws {
    buffers = [:]
    for (p, _, t) in try resolve(tensors, states: ["momentum_buffer"]) {
      buffers[ObjectIdentifier(p)] = t.clone()
    }
  }

  public func step() {
    for group in groups {
      let lr = Float(group.learningRate * learningRateFactor)
      let wd = Float(group.weightDecay)
      for (_, p) in group.parameters where !p.frozen {
        let n = p.value.count
        let w = p.value.data
        let g = p.grad.data
        if momentum == 0 {
          for i in 0..<n { w[i] -= lr * (g[i] + wd * w[i]) }
          continue
        }
        let key = ObjectIdentifier(p)
        let (mu, damp) = (momentum, 1 - dampening)
        if let buf = buffers[key] {
          let b = buf.data
          for i in 0..<n {
            let d = g[i] + wd * w[i]
            b[i] = mu * b[i] + damp * d
            w[i] -= lr * (nesterov ? d + mu * b[i] : b[i])
          }
        } else {
          let buf = Tensor(shape: p.value.shape)
          let b = buf.data
          for i in 0..<n {
            let d = g[i] + wd * w[i]
            b[i] = d
            w[i] -= lr * (nesterov ? d + mu * b[i] : b[i])
          }
          buffers[key] = buf
        }
      }
    }
  }
}

/// Adam with decoupled weight decay (PyTorch `torch.optim.AdamW`).
public final class AdamW: Optimizer {
  public var groups: [ParameterGroup]
  public var learningRateFactor: Double = 1
  public let beta1: Double
  public let beta2: Double
  public let eps: Float
  private var state: [ObjectIdentifier: (step: Int, m: Tensor, v: Tensor)] = [:]

  /// Creates AdamW over `groups` (PyTorch defaults: betas (0.9, 0.999), eps 1e-8).
  public init(
    groups: [ParameterGroup], beta1: Double = 0.9, beta2: Double = 0.999, eps: Float = 1e-8
  ) {
    self.groups = groups
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
  }

  /// Creates AdamW with one group (PyTorch's default weight decay is 0.01).
  public convenience init(
    parameters: [(name: String, parameter: Parameter)], learningRate: Double,
    weightDecay: Double = 0.01
  ) {
    self.init(groups: [
      ParameterGroup(parameters, learningRate: learningRate, weightDecay: weightDecay)
    ])
  }

  public func stateDict() -> [(name: String, tensor: Tensor)] {
    var out: [(name: String, tensor: Tensor)] = []
    for g in groups {
      for (name, p) in g.parameters {
        guard let s = state[ObjectIdentifier(p)] else { continue }
        out += [
          (name + ".exp_avg", s.m.clone()), (name + ".exp_avg_sq", s.v.clone()),
          (name + ".step", Tensor(shape: [1], values: [Float(s.step)])),
        ]
      }
    }
    return out
  }

  public func loadStateDict(_ tensors: [String: Tensor]) throws {
    var restored: [ObjectIdentifier: (step: Int?, m: Tensor?, v: Tensor?)] = [:]
    for (p, name, t) in try resolve(tensors, states: ["exp_avg", "exp_avg_sq", "step"]) {
      var entry = restored[ObjectIdentifier(p)] ?? (nil, nil, nil)
      switch name {
      case "exp_avg": entry.m = t.clone()
      case "exp_avg_sq": entry.v = t.clone()
      default: entry.step = Int(t[0])
      }
      restored[ObjectIdentifier(p)] = entry
    }
    state = [:]
    for (key, e) in restored {
      guard let step = e.step, let m = e.m, let v = e.v else {
        throw NeuralError.missingKey(key: "exp_avg, exp_avg_sq and step of every parameter")
      }
      state[key] = (step, m, v)
    }
  }

  public func step() {
    for group in groups {
      let lr = group.learningRate * learningRateFactor
      let decay = Float(1 - lr * group.weightDecay)
      for (_, p) in group.parameters where !p.frozen {
        let key = ObjectIdentifier(p)
        var s = state[key] ?? (0, Tensor(shape: p.value.shape), Tensor(shape: p.value.shape))
        s.step += 1
        state[key] = s
        let bc1 = 1 - pow(beta1, Double(s.step))
        let bc2Sqrt = (1 - pow(beta2, Double(s.step))).squareRoot()
        let stepSize = Float(lr / bc1)
        let (b1, b2) = (Float(beta1), Float(beta2))
        let bc2 = Float(bc2Sqrt)
        let (w, g, m, v) = (p.value.data, p.grad.data, s.m.data, s.v.data)
        for i in 0..<p.value.count {
          w[i] *= decay
          m[i] += (g[i] - m[i]) * (1 - b1)
          v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i]
          let denom = v[i].squareRoot() / bc2 + eps
          w[i] -= stepSize * m[i] / denom
        }
      }
    }
  }
}

// MARK: - Schedules

/// A learning-rate multiplier as a function of the (0-based) optimizer step.
public protocol LearningRateSchedule {
  /// The factor for step `step` (set `optimizer.learningRateFactor` to it before `step()`).
  func factor(at step: Int) -> Double
}

/// Constant factor 1.
public struct ConstantSchedule: LearningRateSchedule {
  public init() {}
  public func factor(at step: Int) -> Double { 1 }
}

/// Linear warmup then cosine decay.
///
/// Steps 0..<warmup: (step + 1) / warmup (no zero-lr step). Then
/// `minimumFactor + (1 − minimumFactor)·½(1 + cos(π·t))` with
/// t = (step − warmup) / (totalSteps − warmup), clamped to [0, 1].
public struct CosineSchedule: LearningRateSchedule {
  public var warmupSteps: Int
  public var totalSteps: Int
  public var minimumFactor: Double

  /// Creates the schedule; `totalSteps` includes the warmup.
  public init(warmupSteps: Int = 0, totalSteps: Int, minimumFactor: Double = 0) {
    precondition(
      warmupSteps >= 0 && totalSteps > 0, "CosineSchedule needs warmup ≥ 0 and total > 0 steps.")
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.minimumFactor = minimumFactor
  }

  public func factor(at step: Int) -> Double {
    if step < warmupSteps { return Double(step + 1) / Double(warmupSteps) }
    let span = Swift.max(totalSteps - warmupSteps, 1)
    let t = Swift.min(Swift.max(Double(step - warmupSteps) / Double(span), 0), 1)
    return minimumFactor + (1 - minimumFactor) * 0.5 * (1 + cos(Double.pi * t))
  }
}

/// Multiply by `gamma` every `stepSize` steps (PyTorch `StepLR`).
public struct StepSchedule: LearningRateSchedule {
  public var stepSize: Int
  public var gamma: Double

  /// Creates the schedule.
  public init(stepSize: Int, gamma: Double = 0.1) {
    precondition(stepSize > 0, "StepSchedule needs stepSize > 0.")
    self.stepSize = stepSize
    self.gamma = gamma
  }

  public func factor(at step: Int) -> Double { pow(gamma, Double(step / stepSize)) }
}
