import Neural

/// Neural's BatchNorm2d as AdaBN and the strategies see it.
extension BatchNorm2d: RunningStatistics {
  public var runningVariance: Tensor { runningVar }
  public var batchesTracked: Tensor? { numBatchesTracked }
  public var statisticsFrozen: Bool {
    get { freezeStatistics }
    set { freezeStatistics = newValue }
  }
  public var statisticsMomentum: Float {
    get { momentum }
    set { momentum = newValue }
  }
}
