import Foundation

/// How much of a pretrained (or freshly initialised) backbone is trained.
///
/// Every strategy keeps the same architecture, so comparisons between arms are fair; only the
/// initialisation and the set of trained tensors differ.
public enum Strategy: Equatable, Hashable, Sendable, CustomStringConvertible {
  /// He (fan-out) initialisation, every layer trained.
  case scratch
  /// Backbone frozen, BatchNorm statistics included; a new head trained on cached features.
  case linearProbe
  /// Backbone as a fixed feature extractor feeding a separately fitted L2 logistic regression.
  case featuresLogReg
  /// The last `stages` stages (and the head) trained, the rest frozen with frozen statistics.
  case partial(stages: Int)
  /// Everything trained (optionally with a lower backbone learning rate).
  case full

  /// Parses `scratch`, `linear-probe`, `features+logreg`, `partial(K)` (or the older
  /// `partial:K`) or `full`.
  public init(parsing text: String) throws {
    let t = text.trimmingCharacters(in: .whitespaces).lowercased()
    switch t {
    case "scratch": self = .scratch
    case "linear-probe", "linear", "linearprobe": self = .linearProbe
    case "features+logreg", "logreg", "features-logreg": self = .featuresLogReg
    case "full", "finetune", "fine-tune": self = .full
    default:
      if t.hasPrefix("partial:"), let k = Int(t.dropFirst("partial:".count)), k >= 0 {
        self = .partial(stages: k)
      } else if t.hasPrefix("partial("), t.hasSuffix(")"),
        let k = Int(t.dropFirst("partial(".count).dropLast()), k >= 0
      {
        self = .partial(stages: k)
      } else {
        throw AdaptationError.unknownStrategy(text)
      }
    }
  }

  /// The canonical spelling, accepted back by `init(parsing:)`.
  public var description: String {
    switch self {
    case .scratch: return "scratch"
    case .linearProbe: return "linear-probe"
    case .featuresLogReg: return "features+logreg"
    case .partial(let k): return "partial(\(k))"
    case .full: return "full"
    }
  }

  /// Whether the backbone is entirely frozen (features can be extracted once and cached).
  public var freezesWholeBackbone: Bool {
    switch self {
    case .linearProbe, .featuresLogReg: return true
    case .partial(let k): return k == 0
    case .scratch, .full: return false
    }
  }

  /// Whether the backbone starts from random weights instead of the pretrained ones.
  public var reinitialisesBackbone: Bool { self == .scratch }

  /// Which of `stageCount` stages (0 = the stem side) are trained.
  public func trainedStages(of stageCount: Int) throws -> Set<Int> {
    switch self {
    case .scratch, .full: return Set(0..<stageCount)
    case .linearProbe, .featuresLogReg: return []
    case .partial(let k):
      guard k <= stageCount else {
        throw AdaptationError.stageCountOutOfRange(requested: k, available: stageCount)
      }
      return Set((stageCount - k)..<stageCount)
    }
  }
}

extension Strategy: Codable {
  public init(from decoder: Decoder) throws {
    try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
  }
  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(description)
  }
}
