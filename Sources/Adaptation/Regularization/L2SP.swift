import Neural

/// Which parameters a weight penalty covers.
public enum PenaltyScope: String, Codable, Sendable {
  /// Convolution and linear weights only (rank ≥ 2), as the L2-SP authors' code does.
  case weights
  /// Weights plus BatchNorm affine parameters (γ, β). Biases of linear layers stay out.
  case weightsAndBatchNormAffine

  /// Whether a parameter named `name` with `shape` is covered.
  ///
  /// Convolution and linear weights are told apart from everything else by rank; BatchNorm's γ
  /// and β are rank 1 and are recognised by a `bn` path component (PyTorch and lukemelas keys:
  /// `_bn0.weight`, `blocks.3.bn1.bias`).
  public func covers(name: String, shape: [Int]) -> Bool {
    if shape.count >= 2 { return true }
    guard self == .weightsAndBatchNormAffine else { return false }
    return PenaltyScope.isBatchNormAffine(name)
  }

  /// Whether a rank-1 parameter name belongs to a BatchNorm layer.
  public static func isBatchNormAffine(_ name: String) -> Bool {
    let parts = name.split(separator: ".")
    guard let last = parts.last, last == "weight" || last == "bias" else { return false }
    return parts.dropLast().contains { $0.lowercased().contains("bn") || $0.contains("norm") }
  }
}

/// An L2 pull of parameters towards an anchor: loss += Σ strengthᵢ/2 · ‖wᵢ − aᵢ‖².
///
/// L2-SP (Li, Grandvalet & Davoine 2018) is two groups of terms: the pretrained (shared) weights
/// anchored at their starting point with strength α, and the new head anchored at zero with
/// strength β. Plain (coupled) weight decay is the same mechanism with every anchor at zero: one
/// code path, not two. Decoupled weight decay (AdamW) lives in the optimizer, not here.
public final class WeightPenalty {
  /// One penalised parameter.
  public struct Term {
    /// The parameter's state-dict name.
    public let name: String
    /// The parameter (its value is read, its gradient accumulated into).
    public let parameter: Parameter
    /// The anchor w⁰ (copied when the penalty is built); `nil` means the zero anchor.
    public let anchor: [Float]?
    /// The strength (α or β).
    public let strength: Float
  }

  /// The penalised parameters.
  public private(set) var terms: [Term]

  /// Creates a penalty from explicit terms.
  public init(terms: [Term]) { self.terms = terms }

  /// L2-SP: `shared` parameters anchored at their current values (snapshot taken now) with
  /// strength `alpha`, `head` parameters anchored at zero with strength `beta`.
  ///
  /// With `anchorAtZero` the shared anchor is zero as well, which is plain L2 weight decay with
  /// separate strengths for the backbone and the head.
  public static func l2sp(
    shared: [(name: String, parameter: Parameter)],
    head: [(name: String, parameter: Parameter)],
    alpha: Float, beta: Float, scope: PenaltyScope = .weights, anchorAtZero: Bool = false
  ) -> WeightPenalty {
    var terms: [Term] = []
    if alpha != 0 {
      for (name, p) in shared where scope.covers(name: name, shape: p.value.shape) {
        terms.append(
          Term(
            name: name, parameter: p, anchor: anchorAtZero ? nil : p.value.array,
            strength: alpha))
      }
    }
    if beta != 0 {
      for (name, p) in head where scope.covers(name: name, shape: p.value.shape) {
        terms.append(Term(name: name, parameter: p, anchor: nil, strength: beta))
      }
    }
    return WeightPenalty(terms: terms)
  }

  /// Plain coupled L2 weight decay λ/2 · Σ‖w‖² over `parameters`: L2-SP with a zero anchor.
  public static func weightDecay(
    _ parameters: [(name: String, parameter: Parameter)], lambda: Float,
    scope: PenaltyScope = .weights
  ) -> WeightPenalty {
    l2sp(shared: parameters, head: [], alpha: lambda, beta: 0, scope: scope, anchorAtZero: true)
  }

  /// Adds the terms of `other` (e.g. L2-SP and a separate weight decay).
  public func append(_ other: WeightPenalty) { terms += other.terms }

  /// Σ strength/2 · ‖w − a‖² over unfrozen terms, accumulated in Double.
  ///
  /// Frozen parameters are skipped: their distance to the anchor is a constant that cannot
  /// change what training does.
  public func value() -> Double {
    var total = 0.0
    for term in terms where !term.parameter.frozen {
      let w = term.parameter.value.data
      var sum = 0.0
      if let anchor = term.anchor {
        anchor.withUnsafeBufferPointer { a in
          for i in 0..<a.count {
            let d = Double(w[i] - a[i])
            sum += d * d
          }
        }
      } else {
        for i in 0..<term.parameter.value.count {
          let d = Double(w[i])
          sum += d * d
        }
      }
      total += 0.5 * Double(term.strength) * sum
    }
    return total
  }

  /// Adds strength · (w − a) to each unfrozen parameter's gradient (backward of `value()`).
  public func accumulateGradients() {
    for term in terms where !term.parameter.frozen {
      let w = term.parameter.value.data
      let g = term.parameter.grad.data
      let s = term.strength
      if let anchor = term.anchor {
        anchor.withUnsafeBufferPointer { a in
          for i in 0..<a.count { g[i] += s * (w[i] - a[i]) }
        }
      } else {
        for i in 0..<term.parameter.value.count { g[i] += s * w[i] }
      }
    }
  }
}
