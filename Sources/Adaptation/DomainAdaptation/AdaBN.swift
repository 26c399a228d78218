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
    let savedMomenta = norms.map(\.statisticsMomentum)
    // Momentum 1/k at the k-th batch makes the running buffers the plain mean of the k batch
    // statistics (PyTorch's momentum=None), starting from whatever they held before.
    var seen = 0
    var batchCount = 0
    for images in batches where images.shape[0] >= 2 {
      batchCount += 1
      for bn in norms { bn.statisticsMomentum = 1 / Float(batchCount) }
      _ = model.backbone.forward(images, mode: .training)
      seen += images.shape[0]
    }
    for (i, bn) in norms.enumerated() {
      if batchCount > 0, let counter = bn.batchesTracked, counter.count > 0 {
        counter[0] = Float(batchCount)
      }
      bn.statisticsMomentum = savedMomenta[i]
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
    guard let store = model.featureStore else { return adapt(model, on: batches) }
    return store.adaBN(model, set, batchSize: batchSize) { adapt(model, on: batches) }
  }
}
