import Foundation

/// The weight penalty of a run, as written on the command line (`--reg`).
///
/// `l2sp:alpha=0.1,beta=0.01[,bn=true]` or `none`. `l2:lambda=…` is accepted as a spelling of
/// L2-SP with a zero anchor (coupled weight decay through the loss).
public struct RegularizerSpec: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
  /// Where the shared weights are pulled.
  public enum Anchor: String, Codable, Sendable {
    /// No penalty.
    case none
    /// Towards the starting point w⁰ (L2-SP).
    case startingPoint
    /// Towards zero (plain L2).
    case zero
  }

  /// Where the shared weights are pulled.
  public var anchor: Anchor
  /// Strength on the shared (backbone) weights.
  public var alpha: Float
  /// Strength on the new head's weights (anchored at zero).
  public var beta: Float
  /// Whether BatchNorm γ/β are penalised too.
  public var includeBatchNormAffine: Bool

  /// No penalty.
  public static let none = RegularizerSpec(
    anchor: .none, alpha: 0, beta: 0,
    includeBatchNormAffine: false)

  /// L2-SP with the authors' released defaults α = 0.1, β = 0.01.
  public static func l2sp(
    alpha: Float = 0.1, beta: Float = 0.01,
    includeBatchNormAffine: Bool = false
  ) -> RegularizerSpec {
    RegularizerSpec(
      anchor: .startingPoint, alpha: alpha, beta: beta,
      includeBatchNormAffine: includeBatchNormAffine)
  }

  /// Creates a spec.
  public init(anchor: Anchor, alpha: Float, beta: Float, includeBatchNormAffine: Bool) {
    self.anchor = anchor
    self.alpha = alpha
    self.beta = beta
    self.includeBatchNormAffine = includeBatchNormAffine
  }

  /// Parses `none`, `l2sp`, `l2sp:alpha=A,beta=B,bn=true`, `l2:lambda=L`.
  public init(parsing text: String) throws {
    let t = text.trimmingCharacters(in: .whitespaces)
    if t.isEmpty || t == "none" {
      self = .none
      return
    }
    let (kind, rest) =
      t.firstIndex(of: ":").map {
        (String(t[..<$0]), String(t[t.index(after: $0)...]))
      } ?? (t, "")
    var values: [String: String] = [:]
    for item in rest.split(separator: ",") where !item.isEmpty {
      let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
      guard kv.count == 2 else {
        throw AdaptationError.badRegularizer(spec: text, reason: "'\(item)' is not key=value")
      }
      values[kv[0].lowercased()] = kv[1]
    }
    func number(_ key: String, _ fallback: Float) throws -> Float {
      guard let s = values.removeValue(forKey: key) else { return fallback }
      guard let v = Float(s), v >= 0, v.isFinite else {
        throw AdaptationError.badRegularizer(spec: text, reason: "\(key)=\(s) is not a number ≥ 0")
      }
      return v
    }
    let bnText = values.removeValue(forKey: "bn") ?? "false"
    guard let bn = Bool(bnText) else {
      throw AdaptationError.badRegularizer(spec: text, reason: "bn=\(bnText) is not true/false")
    }
    switch kind.lowercased() {
    case "l2sp", "l2-sp":
      let a = try number("alpha", 0.1)
      let b = try number("beta", 0.01)
      self.init(anchor: .startingPoint, alpha: a, beta: b, includeBatchNormAffine: bn)
    case "l2", "wd":
      let l = try number("lambda", 1e-4)
      self.init(anchor: .zero, alpha: l, beta: l, includeBatchNormAffine: bn)
    default:
      throw AdaptationError.badRegularizer(spec: text, reason: "unknown kind '\(kind)'")
    }
    if let unused = values.keys.sorted().first {
      throw AdaptationError.badRegularizer(spec: text, reason: "unknown key '\(unused)'")
    }
  }

  /// The canonical spelling, accepted back by `init(parsing:)`.
  public var description: String {
    switch anchor {
    case .none: return "none"
    case .startingPoint:
      return "l2sp:alpha=\(alpha),beta=\(beta)" + (includeBatchNormAffine ? ",bn=true" : "")
    case .zero: return "l2:lambda=\(alpha)" + (includeBatchNormAffine ? ",bn=true" : "")
    }
  }

  /// The penalty scope this spec asks for.
  public var scope: PenaltyScope { includeBatchNormAffine ? .weightsAndBatchNormAffine : .weights }
}
