import Foundation
import Neural

/// AdaBN (Li et al. 2016): re-estimate every BatchNorm's running statistics on unlabelled
/// images of one domain, keeping every weight as it is.
///
/// The new statistics are the cumulative average of the per-batch statistics (PyTorch:
/// `reset_running_stats()` then `momentum=None` in `train()` mode), with no labels and no
/// gradient. Only statistics change; parameters are bit-identical afterwards.
public enum AdaBN {
  /// Re-estimates the statistics of `model`'s BatchNorms from `batches` of images (N, H, W, C).
  ///
  /// Returns the number of images seen (0 leaves the statistics untouched). Every BatchNorm
  /// runs on batch statistics while this runs, whatever its frozen flag; flags are restored.
  @discardableResult
  public static func adapt<S: Sequence>(_ model: TransferModel, on batches: S) -> Int
  where S.Element == Tensor {
    let norms = model.batchNorms.map(\.layer)
    let savedFlags = norms.map(\.statisticsFrozen)
    let savedFrozen = model.backbone.parameters.map { $0.parameter.frozen }
    // Parameters marked frozen so no layer prepares weight gradients; restored below.
    for (_, p) in model.backbone.parameters { p.frozen = true }
    for bn in norms { bn.statisticsFrozen = false }
    var meanSums = norms.map { [Double](repeating: 0, count: $0.runningMean.count) }
    var varSums = norms.map { [Double](repeating: 0, count: $0.runningVariance.count) }
    var batchCount = 0
    var seen = 0
    for images in batches where images.shape[0] >= 2 {
      // With the running buffers zeroed, one momentum update leaves m·(batch statistic) in
      // them, which gives each BatchNorm's batch mean and unbiased variance exactly.
      let savedCounts = norms.map { $0.batchesTracked?.array }
      for bn in norms {
        bn.runningMean.zero()
        bn.runningVariance.zero()
      }
      _ = model.backbone.forward(images, mode: .training)
      for (i, bn) in norms.enumerated() {
        let m = Double(bn.statisticsMomentum)
        for c in 0..<bn.runningMean.count {
          meanSums[i][c] += Double(bn.runningMean[c]) / m
          varSums[i][c] += Double(bn.runningVariance[c]) / m
        }
        if let counter = bn.batchesTracked, let saved = savedCounts[i] {
          for j in 0..<counter.count { counter[j] = saved[j] }
        }
      }
      batchCount += 1
      seen += images.shape[0]
    }
    for (i, bn) in norms.enumerated() {
      if batchCount > 0 {
        for c in 0..<bn.runningMean.count {
          bn.runningMean[c] = Float(meanSums[i][c] / Double(batchCount))
          bn.runningVariance[c] = Float(varSums[i][c] / Double(batchCount))
        }
        if let counter = bn.batchesTracked, counter.count > 0 { counter[0] = Float(batchCount) }
      }
      bn.statisticsFrozen = savedFlags[i]
    }
    for ((_, p), f) in zip(model.backbone.parameters, savedFrozen) { p.frozen = f }
    return seen
  }

  /// Re-estimates on every image of `set`, in batches of `batchSize`.
  @discardableResult
  public static func adapt(_ model: TransferModel, on set: ImageSet, batchSize: Int = 32) -> Int {
    let batches = set.batchIndices(size: batchSize, shuffleSeed: nil, dropLast: true)
      .lazy.map { set.batch($0) }
    return adapt(model, on: batches)
  }
}
