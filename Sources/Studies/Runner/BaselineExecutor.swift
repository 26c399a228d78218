import Adaptation
import Datasets
import Foundation

/// Runs `baseline:majority-class` arms: no network; every image is predicted as the most
/// frequent class of the budget-limited target training set (ties: the first class name in
/// sorted order), with the training class shares as its probabilities.
///
/// It is the chance-level reference a learning-curve plot needs, and it lets a study be run
/// end to end without training. Its images come from `AdaptationExecutor.dataRequests` and
/// `DataPreparation.plan`, exactly like the network arms': the same patient-grouped split, the
/// same label budget, and the same test images. Its scores come from the same `Evaluator`
/// (Metrics). No pixel and no header is read (no sex/age breakdown: a constant prediction has
/// the same accuracy in every subgroup). Seeds change the split and the budget, as for every
/// arm.
public struct BaselineExecutor: RunExecutor {
  /// The bad-row policy for every dataset of the study (the spec's `data.on_bad`).
  public var onBad: OnBad

  /// A baseline executor with the studies' default policy, `.skip`.
  public init(onBad: OnBad = .skip) {
    self.onBad = onBad
  }

  public func canExecute(_ arm: ArmSpec) -> Bool { arm.isBaseline }

  public func prepare(_ spec: StudySpec, context: StudyContext) throws -> StudyPreparation {
    var hashes: [String: String] = [:]
    for ref in [spec.source] + spec.targets {
      let url = try AdaptationExecutor.manifestURL(
        ref, options: spec.training.options, context: context)
      hashes[ref.key] = try DatasetFingerprint.content(manifest: url)
    }
    return StudyPreparation(datasetHashes: hashes)
  }

  public func execute(_ run: RunConfig, context: RunContext) throws -> RunResult {
    let start = Date()
    let requests = try AdaptationExecutor.dataRequests(run, context: context.study, onBad: onBad)
    let target = try DataPreparation.plan(requests.target)
    let source = try DataPreparation.plan(requests.source)
    let planned = Date().timeIntervalSince(start)

    let classes = target.dataset.labels
    let labels = target.dataset.labelIndices
    var counts = [Int](repeating: 0, count: classes.count)
    for i in target.train { counts[labels[i]] += 1 }
    let trainImages = target.train.count
    guard trainImages > 0 else { throw AdaptationError.emptySplit("train") }
    // The class shares of the budgeted training set; their argmax (first of equal shares, in
    // sorted class order) is the majority class every image is predicted as.
    let prior = counts.map { Float(Double($0) / Double(trainImages)) }
    let majority = prior.indices.max { prior[$0] < prior[$1] }!

    func score(_ plan: DataPreparation.Plan, _ dataset: DatasetRef) throws -> EvaluationReport {
      guard !plan.test.isEmpty else {
        throw StudiesError.manifest(
          path: dataset.path, row: nil, reason: "no test images for \(dataset.label)")
      }
      let labels = plan.dataset.labelIndices
      let report = Evaluator.report(
        probabilities: Array(
          [[Float]](repeating: prior, count: plan.test.count).joined()),
        labels: plan.test.map { labels[$0] }, classes: classes,
        domains: plan.test.map { plan.dataset.entries[$0].domain ?? "-" },
        seed: UInt64(run.seed))
      return report
    }
    let targetMetrics = try score(target, run.target)
    // The source test set is scored where it shares the target's classes, as for the arms.
    var sourceMetrics: EvaluationReport?
    if run.source.key != run.target.key, source.dataset.labels == classes, !source.test.isEmpty {
      sourceMetrics = try score(source, run.source)
    }
    let wall = Date().timeIntervalSince(start)
    return RunResult(
      target: targetMetrics, source: sourceMetrics, epochs: [], monitor: run.training.monitor,
      timings: [
        PhaseTiming(phase: "data", seconds: planned),
        PhaseTiming(phase: "evaluation", seconds: wall - planned),
      ],
      wallSeconds: wall, trainImages: trainImages,
      notes: [
        "predicted_class": classes[majority],
        "prior": String(format: "%.4f", Double(prior[majority])),
        "target.train": String(trainImages), "target.test": String(target.test.count),
        "source.test": String(source.test.count),
        "target.train.sha256": target.trainSHA256,
      ])
  }
}
