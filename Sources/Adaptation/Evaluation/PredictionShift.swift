import Foundation
import Metrics

/// Black-box shift detection (Lipton et al. 2018; Rabanser et al. 2019) of a source model: the
/// MMD² two-sample test between its class probabilities on source images and on target images
/// (no target labels needed), and the difference of mean confidences (Guillory et al. 2021),
/// an estimate of its accuracy drop.
///
/// Why on the model's outputs: feature distances measure how different the scans look, not how
/// much the model cares. On the phantom, ImageNet-feature MMD² ranked site B above site C while
/// a site-A model lost 0.135 on B and 0.352 on C; MMD² on the model's probabilities ranked them
/// like the drop (README, "Measuring a shift before training").
public struct PredictionShift: Codable, Equatable, Sendable {
  /// Unbiased MMD² (RBF kernel, median-heuristic bandwidth) between the probability vectors.
  public var mmd2: Double
  /// Permutation p-value (1 + #{perm ≥ observed}) / (1 + permutations), image-level.
  public var pValue: Double
  /// Permutations drawn.
  public var permutations: Int
  /// Mean over images of the largest class probability, on each side.
  public var sourceMeanConfidence: Double
  public var targetMeanConfidence: Double
  /// Source minus target mean confidence.
  public var confidenceDrop: Double
  /// Images on each side.
  public var sourceCount: Int
  public var targetCount: Int

  /// Mean over the rows of a (rows × classes) probability matrix of its largest entry.
  public static func meanConfidence(_ p: FeatureMatrix) -> Double {
    (0..<p.rows).reduce(0) { $0 + Double(p.row($1).max() ?? 0) } / Double(max(p.rows, 1))
  }

  /// Measures it from (rows × classes) probability matrices, row-major.
  public static func measure(
    source: [Float], target: [Float], classes: Int, permutations: Int = 500, seed: UInt64 = 0
  ) throws -> PredictionShift {
    let s = try FeatureMatrix(rows: source.count / classes, columns: classes, values: source)
    let t = try FeatureMatrix(rows: target.count / classes, columns: classes, values: target)
    let test = try MMD.test(
      source: s, target: t,
      options: MMD.Options(
        permutations: permutations, seed: seed, bootstrap: Bootstrap.Plan(replicates: 0)))
    let (cs, ct) = (meanConfidence(s), meanConfidence(t))
    return PredictionShift(
      mmd2: test.mmd2, pValue: test.pValue, permutations: permutations,
      sourceMeanConfidence: cs, targetMeanConfidence: ct, confidenceDrop: cs - ct,
      sourceCount: s.rows, targetCount: t.rows)
  }
}
