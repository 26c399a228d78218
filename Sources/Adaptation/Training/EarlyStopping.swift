/// Early stopping on a validation metric (higher is better), remembering the best epoch.
public struct EarlyStopping: Codable, Equatable, Sendable {
  /// Epochs without improvement tolerated before stopping; `nil` never stops early.
  public var patience: Int?
  /// An improvement must exceed the best value by more than this.
  public var minDelta: Double
  /// The best value seen so far.
  public private(set) var best: Double = -.infinity
  /// The epoch (1-based) that gave `best`; 0 before any epoch.
  public private(set) var bestEpoch: Int = 0
  /// Epochs since the last improvement.
  public private(set) var epochsWithoutImprovement: Int = 0

  /// Creates a tracker.
  public init(patience: Int?, minDelta: Double = 0) {
    self.patience = patience
    self.minDelta = minDelta
  }

  /// Records `value` for `epoch`; returns true when it is a new best (save a checkpoint).
  public mutating func record(_ value: Double, epoch: Int) -> Bool {
    if value.isFinite && (bestEpoch == 0 || value > best + minDelta) {
      best = value
      bestEpoch = epoch
      epochsWithoutImprovement = 0
      return true
    }
    epochsWithoutImprovement += 1
    return false
  }

  /// Whether training should stop now.
  public var shouldStop: Bool {
    guard let patience else { return false }
    return epochsWithoutImprovement >= patience
  }
}
