import Adaptation
import Foundation

/// One arm of a study: how the network is initialised, which parameters are trained and with
/// which regularizers. Written as a `+`-joined string, e.g. `full+l2sp(0.1)`: the one arm
/// grammar, in study specs (`arms:`) and on the command line (`medtransfer train --arm`).
///
/// Grammar (components joined by `+`, at most one training strategy):
/// - strategies: `scratch`, `linear-probe`, `features+logreg`, `partial(K)` (last K stages),
///   `full`; `baseline:majority-class` (no network; predicts the most frequent training class)
/// - modifiers: `adabn` (re-estimate BatchNorm statistics on unlabelled target images; alone it
///   is an arm of its own), `l2sp` / `l2sp(α)` / `l2sp(α,β)` (defaults α = 0.1, β = 0.01),
///   `dropout` / `dropout(p)` (head dropout, default 0.5), `coral(w)` (Deep CORAL loss weight)
public struct ArmSpec: Codable, Sendable, Hashable, CustomStringConvertible {
  /// What is trained (or, for baselines, what predicts).
  public enum Strategy: Codable, Sendable, Hashable {
    /// Random initialisation, every layer trained on the target labels.
    case scratch
    /// Pretrained backbone frozen (BN statistics too), new head trained.
    case linearProbe
    /// Frozen backbone as a feature extractor feeding an L2-regularised logistic regression.
    case featuresLogReg
    /// Last `stages` stages unfrozen, the rest frozen.
    case partial(stages: Int)
    /// Every parameter trained.
    case full
    /// No training at all (only `adabn` adapts the network).
    case untrained
    /// A reference predictor without a network.
    case baseline(Baseline)
  }

  /// Reference predictors that need no network (chance-level lines in the report).
  public enum Baseline: String, Codable, Sendable, Hashable, CaseIterable {
    /// Predicts the most frequent class of the (budget-limited) training set for every image.
    case majorityClass = "majority-class"
  }

  /// L2-SP strengths (Li et al. 2018): α on the shared pretrained weights, β on the new head.
  public struct L2SP: Codable, Sendable, Hashable {
    public var alpha: Double
    public var beta: Double
    public init(alpha: Double = 0.1, beta: Double = 0.01) {
      self.alpha = alpha
      self.beta = beta
    }
  }

  /// The canonical spelling (also the arm's name in reports).
  public var name: String
  public var strategy: Strategy
  /// Re-estimate BatchNorm statistics on unlabelled target images before/without fine-tuning.
  public var adaBN: Bool
  public var l2sp: L2SP?
  /// Head dropout rate (nil: the backbone's default).
  public var dropout: Double?
  /// Deep CORAL loss weight (nil: off).
  public var coral: Double?

  public var description: String { name }

  /// True when the arm starts from pretrained weights (everything except scratch and baselines).
  public var isTransfer: Bool {
    switch strategy {
    case .scratch, .baseline: return false
    default: return true
    }
  }

  /// True for `scratch` (the reference the headline compares against).
  public var isScratch: Bool { strategy == .scratch }

  /// True for baselines that need no network.
  public var isBaseline: Bool {
    if case .baseline = strategy { return true }
    return false
  }

  /// Parses an arm string; the error names what is wrong (the caller adds file and key).
  public static func parse(_ text: String) -> Result<ArmSpec, ArmParseError> {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    if trimmed.isEmpty { return .failure(ArmParseError("the arm is empty")) }
    // `features+logreg` contains the separator; treat it as one token.
    let protected = trimmed.replacingOccurrences(of: "features+logreg", with: "features&logreg")
    var strategy: Strategy?
    var adaBN = false
    var l2sp: L2SP?
    var dropout: Double?
    var coral: Double?
    func setStrategy(_ s: Strategy, _ token: String) -> ArmParseError? {
      if strategy != nil {
        return ArmParseError("'\(token)' is a second training strategy; an arm has at most one")
      }
      strategy = s
      return nil
    }
    for rawToken in protected.split(separator: "+", omittingEmptySubsequences: false) {
      let token = rawToken.replacingOccurrences(of: "features&logreg", with: "features+logreg")
        .trimmingCharacters(in: .whitespaces)
      let (word, args) = splitCall(token)
      guard let args else {
        return .failure(ArmParseError("'\(token)' has unbalanced parentheses"))
      }
      func numbers(_ count: ClosedRange<Int>) -> [Double]? {
        let values = args.compactMap { Double($0) }
        guard values.count == args.count, count.contains(values.count) else { return nil }
        return values
      }
      var error: ArmParseError?
      switch word {
      case "scratch": error = args.isEmpty ? setStrategy(.scratch, token) : noArgs(word)
      case "linear-probe": error = args.isEmpty ? setStrategy(.linearProbe, token) : noArgs(word)
      case "features+logreg":
        error = args.isEmpty ? setStrategy(.featuresLogReg, token) : noArgs(word)
      case "full": error = args.isEmpty ? setStrategy(.full, token) : noArgs(word)
      case _ where word.hasPrefix("partial:") && args.isEmpty:
        // The command line's old spelling (`--strategy partial:K`), read as partial(K).
        guard let k = Int(word.dropFirst("partial:".count)), k >= 1 else {
          return .failure(ArmParseError("'\(token)' needs a stage count, e.g. partial(2)"))
        }
        error = setStrategy(.partial(stages: k), token)
      case "partial":
        guard let v = numbers(1...1), let k = Int(exactly: v[0]), k >= 1 else {
          return .failure(ArmParseError("'\(token)' needs a stage count, e.g. partial(2)"))
        }
        error = setStrategy(.partial(stages: k), token)
      case "adabn":
        adaBN = true
        if !args.isEmpty { error = noArgs(word) }
      case "l2sp":
        guard let v = args.isEmpty ? [] : numbers(1...2), v.allSatisfy({ $0 >= 0 }) else {
          return .failure(ArmParseError("'\(token)' takes l2sp(α) or l2sp(α,β) with α, β ≥ 0"))
        }
        l2sp = L2SP(alpha: v.first ?? 0.1, beta: v.count > 1 ? v[1] : 0.01)
      case "dropout":
        guard let v = args.isEmpty ? [0.5] : numbers(1...1), v[0] >= 0, v[0] < 1 else {
          return .failure(ArmParseError("'\(token)' takes a rate in [0, 1), e.g. dropout(0.5)"))
        }
        dropout = v[0]
      case "coral":
        guard let v = numbers(1...1), v[0] > 0 else {
          return .failure(ArmParseError("'\(token)' takes a positive weight, e.g. coral(1)"))
        }
        coral = v[0]
      case _ where word.hasPrefix("baseline:"):
        let kind = String(word.dropFirst("baseline:".count))
        guard let baseline = Baseline(rawValue: kind) else {
          let known = Baseline.allCases.map { "baseline:\($0.rawValue)" }.joined(separator: ", ")
          return .failure(ArmParseError("unknown baseline '\(kind)' (known: \(known))"))
        }
        error = setStrategy(.baseline(baseline), token)
      default:
        return .failure(
          ArmParseError(
            "unknown component '\(token)' (known: scratch, linear-probe, features+logreg, "
              + "partial(K), full, adabn, l2sp(α), dropout(p), coral(w), baseline:majority-class)"))
      }
      if let error { return .failure(error) }
    }
    let resolved = strategy ?? (adaBN ? Strategy.untrained : nil)
    guard let resolved else {
      return .failure(ArmParseError("'\(text)' names no strategy; add scratch, full, … or adabn"))
    }
    if case .baseline = resolved, adaBN || l2sp != nil || dropout != nil || coral != nil {
      return .failure(ArmParseError("a baseline takes no modifiers"))
    }
    if resolved == .scratch && (adaBN || l2sp != nil) {
      return .failure(
        ArmParseError("scratch has no pretrained weights to anchor l2sp or adapt with adabn"))
    }
    if resolved == .featuresLogReg && (l2sp != nil || dropout != nil || coral != nil) {
      return .failure(ArmParseError("features+logreg trains no network; drop l2sp/dropout/coral"))
    }
    if resolved == .untrained && (l2sp != nil || dropout != nil || coral != nil) {
      return .failure(ArmParseError("adabn alone trains nothing; add a strategy such as full"))
    }
    var arm = ArmSpec(
      name: "", strategy: resolved, adaBN: adaBN, l2sp: l2sp, dropout: dropout, coral: coral)
    arm.name = arm.canonicalName
    return .success(arm)
  }

  /// Sets what this arm trains and how it is regularized on `c`: the strategy, L2-SP, head
  /// dropout and the CORAL weight. The one mapping from the arm grammar to Adaptation, used by
  /// study runs and by `medtransfer train --arm`. Initialisation, AdaBN (a protocol step in a
  /// study, a flag of `train`) and baselines are the caller's.
  public func apply(to c: inout TrainingConfiguration) {
    switch strategy {
    case .scratch: c.strategy = .scratch
    case .linearProbe: c.strategy = .linearProbe
    case .featuresLogReg: c.strategy = .featuresLogReg
    case .partial(let k): c.strategy = .partial(stages: k)
    case .full, .untrained, .baseline: c.strategy = .full
    }
    if let l2sp {
      c.regularizer = .l2sp(alpha: Float(l2sp.alpha), beta: Float(l2sp.beta))
    }
    if let dropout { c.dropout = dropout }
    c.coralWeight = coral
  }

  /// The canonical spelling: `adabn` first, then the strategy, then modifiers in a fixed order.
  public var canonicalName: String {
    var parts: [String] = []
    if adaBN { parts.append("adabn") }
    switch strategy {
    case .scratch: parts.append("scratch")
    case .linearProbe: parts.append("linear-probe")
    case .featuresLogReg: parts.append("features+logreg")
    case .partial(let k): parts.append("partial(\(k))")
    case .full: parts.append("full")
    case .untrained: break
    case .baseline(let b): parts.append("baseline:\(b.rawValue)")
    }
    if let l2sp {
      parts.append(
        l2sp.beta == 0.01
          ? "l2sp(\(format(l2sp.alpha)))"
          : "l2sp(\(format(l2sp.alpha)),\(format(l2sp.beta)))")
    }
    if let dropout { parts.append(dropout == 0.5 ? "dropout" : "dropout(\(format(dropout)))") }
    if let coral { parts.append("coral(\(format(coral)))") }
    return parts.joined(separator: "+")
  }

  private func format(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e6 ? String(Int(v)) : String(v)
  }

  private static func noArgs(_ word: String) -> ArmParseError {
    ArmParseError("'\(word)' takes no arguments")
  }

  /// Splits `name(a,b)` into ("name", ["a","b"]); `name` gives ("name", []); nil args = malformed.
  private static func splitCall(_ token: String) -> (String, [String]?) {
    guard let open = token.firstIndex(of: "(") else {
      return token.contains(")") ? (token, nil) : (token, [])
    }
    guard token.hasSuffix(")") else { return (token, nil) }
    let word = String(token[..<open])
    let inner = token[token.index(after: open)..<token.index(before: token.endIndex)]
    let args = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    return (word, args)
  }
}

/// Why an arm string did not parse.
public struct ArmParseError: Error, Sendable, Equatable {
  public var reason: String
  init(_ reason: String) { self.reason = reason }
}
