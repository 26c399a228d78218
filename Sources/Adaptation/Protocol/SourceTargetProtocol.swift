import Foundation
import Neural

/// The source → target experiment: (optionally) train on the source domain and evaluate on
/// both; adapt (AdaBN and/or fine-tune on a target label budget, with or without L2-SP);
/// evaluate on both again.
///
/// Without a source phase the model starts from the factory (ImageNet weights or scratch) and
/// the protocol is a plain target run; source metrics are then reported after adaptation only
/// when the source test set shares the target's classes.
public struct SourceTargetConfiguration: Codable, Hashable, Sendable {
  /// Training on the source domain (all its labels); nil: start from the factory's weights.
  public var source: TrainingConfiguration?
  /// Re-estimate BatchNorm statistics on unlabelled target images before fine-tuning.
  public var adaBN: Bool
  /// Fine-tuning on the target label budget (nil: no fine-tuning). Its `regularizer` anchors
  /// L2-SP at the weights it starts from (source-trained, or ImageNet).
  public var fineTune: TrainingConfiguration?

  /// Creates a protocol configuration.
  public init(source: TrainingConfiguration?, adaBN: Bool, fineTune: TrainingConfiguration?) {
    self.source = source
    self.adaBN = adaBN
    self.fineTune = fineTune
  }
}

/// The splits of both domains.
public struct SourceTargetData {
  /// Source train/validation/test (train unused without a source phase).
  public var source: RunData?
  /// Target train (budgeted)/validation/test, and unlabelled target images for AdaBN/CORAL.
  public var target: RunData

  /// Creates the data.
  public init(source: RunData?, target: RunData) {
    self.source = source
    self.target = target
  }
}

/// Source and target evaluations at one point of the protocol.
public struct DomainPair: Codable, Equatable, Sendable {
  /// On the held-out source test set (nil when there is none).
  public var source: EvaluationReport?
  /// On the held-out target test set.
  public var target: EvaluationReport
}

/// Wall seconds of one phase (`source-training`, `adabn`, `target-training`, `evaluation`).
public struct PhaseTiming: Codable, Equatable, Sendable {
  public var phase: String
  public var seconds: Double
  public init(phase: String, seconds: Double) {
    self.phase = phase
    self.seconds = seconds
  }
}

/// What the protocol measured.
public struct SourceTargetResult: Codable, Equatable, Sendable {
  /// The configuration run.
  public var configuration: SourceTargetConfiguration
  /// Source training (nil without a source phase).
  public var sourceTraining: RunSummary?
  /// Before any target adaptation (after source training, or the factory's model).
  public var beforeAdaptation: DomainPair
  /// After AdaBN (when asked).
  public var afterAdaBN: DomainPair?
  /// Target fine-tuning (when asked), with its epoch logs.
  public var fineTuning: RunSummary?
  public var fineTuningEpochs: [EpochLog]
  /// After all adaptation steps.
  public var afterAdaptation: DomainPair
  /// The source test set after adaptation, scored with BatchNorm statistics re-estimated on
  /// source images (each site keeping its own statistics): what is left of forgetting once the
  /// statistics a fine-tune moved to the target are put back, i.e. what the weights forgot.
  /// For AdaBN arms this is `afterAdaptation.source` itself.
  public var sourceWithOwnStatistics: EvaluationReport?
  /// The source model (before adaptation) scored the same way; weight-only forgetting is this
  /// minus `sourceWithOwnStatistics`.
  public var sourceBeforeWithOwnStatistics: EvaluationReport?
  /// Source accuracy before − after adaptation (nil without a source test set).
  public var forgettingAccuracy: Double?
  /// Source balanced accuracy before − after adaptation.
  public var forgettingBalancedAccuracy: Double?
  /// Target accuracy after − before adaptation.
  public var targetGainAccuracy: Double
  /// ‖w − w⁰‖ per stage against the weights adaptation started from.
  public var driftFromAdaptationStart: [StageDrift]
  /// ‖w − w⁰‖ per stage against the factory's initial weights (ImageNet for pretrained).
  public var driftFromInitial: [StageDrift]
  /// The source model's predictions on the source test set against the target test set,
  /// before any target adaptation (black-box shift detection; nil without a source phase or
  /// a source test set with the target's classes).
  public var sourceModelShift: PredictionShift?
  /// Wall seconds per phase.
  public var timings: [PhaseTiming]
}

/// Runs the source → target protocol.
public enum SourceTargetProtocol {
  /// Runs it; `directory` (optional) gets `source/` and `target/` run folders, and a resumed
  /// call continues the target phase from its last checkpoint.
  ///
  /// `sourceModel` (optional) shares the source phase between runs: when the file exists the
  /// source-trained weights are loaded from it instead of trained again, otherwise they are
  /// trained and written there (with the source summary beside it, `….summary.json`). The
  /// caller keys the path by everything the source phase depends on (its configuration, data
  /// and seed); arms that differ only after it (L2-SP, AdaBN, budgets) then start from the
  /// same source model, which also makes their forgetting numbers comparable.
  public static func run(
    _ configuration: SourceTargetConfiguration, data: SourceTargetData,
    factory: ModelFactory, directory: URL? = nil, resume: Bool = false,
    sourceModel: URL? = nil,
    progress: ((String, TrainingProgress) -> Void)? = nil,
    augmentation: ((Tensor, UInt64) -> Void)? = nil
  ) throws
    -> SourceTargetResult
  {
    try runKeepingModel(
      configuration, data: data, factory: factory, directory: directory, resume: resume,
      sourceModel: sourceModel, progress: progress, augmentation: augmentation
    ).result
  }

  /// `run`, also returning the adapted model (what the "after adaptation" scores scored).
  /// With `trainSourceModel` false, a `sourceModel` file that does not exist is an error
  /// (`missingSourceModel`) instead of being trained here: studies train every shared source
  /// model first (`trainSourceModel(…)`), so no run depends on another run's order.
  public static func runKeepingModel(
    _ configuration: SourceTargetConfiguration, data: SourceTargetData, factory: ModelFactory,
    directory: URL? = nil, resume: Bool = false, sourceModel: URL? = nil,
    trainSourceModel: Bool = true,
    progress: ((String, TrainingProgress) -> Void)? = nil,
    augmentation: ((Tensor, UInt64) -> Void)? = nil
  ) throws -> (result: SourceTargetResult, model: TransferModel) {
    guard let targetTest = data.target.test else { throw AdaptationError.emptySplit("target test") }
    let run = ProtocolRun(
      configuration, data: data, targetTest: targetTest, directory: directory, resume: resume,
      progress: progress, augmentation: augmentation)
    let (model, initial, sourceSummary) = try run.sourcePhase(
      factory: factory, sourceModel: sourceModel, trainIfMissing: trainSourceModel)
    // Every arm of a seed scores the same source model here: shared scores come from the
    // model's feature store when it has one (`Trainer.predictShared`).
    let scoredBefore = run.scoreBoth(model, shared: true)
    let before = scoredBefore.pair
    // Does the target look different to the source model? Its class probabilities on both test
    // sets (the ones `before` was scored from), before any adaptation, where the drop `before`
    // measures is the one they predict.
    var sourceModelShift: PredictionShift?
    if configuration.source != nil, let source = scoredBefore.source {
      sourceModelShift = run.timed("prediction-shift") {
        try? PredictionShift.measure(
          source: source, target: scoredBefore.target, classes: run.classes, seed: run.seed)
      }
    }
    // The same score before adaptation: the source model's running statistics are averages
    // over augmented training batches of moving weights, and re-estimating them alone moved
    // site A's balanced accuracy by ~0.1 — so weight-only forgetting compares like with like.
    let ownBefore = run.scoreSourceWithOwnStatistics(model, shared: true)
    let (start, afterAdaBN, fineTuning) = try run.adaptationPhase(model)
    var after = run.scoreBoth(model).pair
    // AdaBN is per domain (Li et al. 2016): each domain is scored with BatchNorm statistics of
    // its own unlabelled images, so AdaBN arms score the source that way. Scoring site A with
    // site B's statistics would count the swapped statistics as forgotten knowledge: AdaBN
    // alone, whose weights are untouched, "forgot" 0.645 → 0.352 balanced accuracy in
    // studies/forgetting.yaml that way. Every arm also records that score, so a report can
    // separate what the weights forgot from what the moved statistics cost.
    let ownAfter = run.scoreSourceWithOwnStatistics(model)
    if configuration.adaBN, let ownAfter { after.source = ownAfter }
    let forgetting = zip2(before.source, after.source).map {
      (
        $0.overall.accuracy.value - $1.overall.accuracy.value,
        $0.overall.balancedAccuracy - $1.overall.balancedAccuracy
      )
    }
    let result = SourceTargetResult(
      configuration: configuration, sourceTraining: sourceSummary, beforeAdaptation: before,
      afterAdaBN: afterAdaBN, fineTuning: fineTuning, fineTuningEpochs: fineTuning?.epochs ?? [],
      afterAdaptation: after, sourceWithOwnStatistics: ownAfter,
      sourceBeforeWithOwnStatistics: ownBefore,
      forgettingAccuracy: forgetting?.0,
      forgettingBalancedAccuracy: forgetting?.1,
      targetGainAccuracy: after.target.overall.accuracy.value
        - before.target.overall.accuracy.value,
      driftFromAdaptationStart: model.drift(from: start),
      driftFromInitial: model.drift(from: initial),
      sourceModelShift: sourceModelShift, timings: run.timings)
    return (result, model)
  }

  /// The lock file beside a shared source model, held while one process trains it (others
  /// wait for it, or ask `FileLock.isHeld` and do other work first).
  public static func sourceModelLockPath(_ sourceModel: URL) -> String {
    sourceModel.path + ".lock"
  }

  /// The source phase of `configuration` alone: trains the shared source model and writes it
  /// to `sourceModel` (with its summary beside it) unless the file exists already. Returns the
  /// source training's summary (nil when it was there); a failed training writes nothing.
  /// `directory` keeps the source phase's checkpoints, so a `resume` continues a stopped one.
  @discardableResult
  public static func trainSourceModel(
    _ configuration: SourceTargetConfiguration, data: SourceTargetData, factory: ModelFactory,
    sourceModel: URL, directory: URL? = nil, resume: Bool = false,
    progress: ((String, TrainingProgress) -> Void)? = nil,
    augmentation: ((Tensor, UInt64) -> Void)? = nil
  ) throws -> RunSummary? {
    guard configuration.source != nil else {
      throw AdaptationError.badRequest(
        what: "source model \(sourceModel.path)", reason: "the configuration has no source phase")
    }
    guard let targetTest = data.target.test else { throw AdaptationError.emptySplit("target test") }
    if FileManager.default.fileExists(atPath: sourceModel.path) { return nil }
    let run = ProtocolRun(
      configuration, data: data, targetTest: targetTest, directory: directory, resume: resume,
      progress: progress, augmentation: augmentation)
    return try run.sourcePhase(factory: factory, sourceModel: sourceModel).summary
  }
}

private func zip2<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
  guard let a, let b else { return nil }
  return (a, b)
}

/// The state one protocol run threads through its phases: the data, the seed, the progress and
/// augmentation hooks, and the wall time of every phase in the order they ran.
private final class ProtocolRun {
  let configuration: SourceTargetConfiguration
  let data: SourceTargetData
  let targetTest: ImageSet
  let directory: URL?
  let resume: Bool
  let progress: ((String, TrainingProgress) -> Void)?
  let augmentation: ((Tensor, UInt64) -> Void)?
  /// The first phase's configuration: its seed scores every evaluation, its batch size AdaBN.
  let first: TrainingConfiguration
  let seed: UInt64
  let classes: Int
  /// The source test set when it has the target's classes (else it cannot be scored).
  let sourceTestComparable: ImageSet?
  private(set) var timings: [PhaseTiming] = []

  init(
    _ configuration: SourceTargetConfiguration, data: SourceTargetData, targetTest: ImageSet,
    directory: URL?, resume: Bool, progress: ((String, TrainingProgress) -> Void)?,
    augmentation: ((Tensor, UInt64) -> Void)?
  ) {
    self.configuration = configuration
    self.data = data
    self.targetTest = targetTest
    self.directory = directory
    self.resume = resume
    self.progress = progress
    self.augmentation = augmentation
    first = configuration.source ?? configuration.fineTune ?? TrainingConfiguration()
    seed = UInt64(first.seed)
    classes = data.target.train.classes.count
    sourceTestComparable = data.source?.test.flatMap {
      $0.classes == data.target.train.classes ? $0 : nil
    }
  }

  func timed<T>(_ phase: String, _ body: () throws -> T) rethrows -> T {
    let start = Date()
    defer { timings.append(PhaseTiming(phase: phase, seconds: Date().timeIntervalSince(start))) }
    return try body()
  }

  /// The model the target phase starts from, its initial weights and, with a source phase, the
  /// source training's summary: trained here, or loaded from `sourceModel` when another run
  /// (or process: they share the study folder and wait on its lock) trained it already.
  func sourcePhase(factory: ModelFactory, sourceModel: URL?, trainIfMissing: Bool = true) throws
    -> (model: TransferModel, initial: [String: [Float]], summary: RunSummary?)
  {
    let channels = data.target.train.channels
    guard var sourceConfig = configuration.source else {
      let model = try factory(first, classes, channels)
      return (model, model.snapshot(), nil)
    }
    guard let sourceData = data.source else { throw AdaptationError.emptySplit("source train") }
    sourceConfig.adaBN = false
    let model = try factory(sourceConfig, classes, channels)
    let initial = model.snapshot()
    try model.apply(sourceConfig.strategy)
    let summaryURL = sourceModel.map { URL(fileURLWithPath: $0.path + ".summary.json") }
    let lock = try sourceModel.map {
      try FileLock(path: SourceTargetProtocol.sourceModelLockPath($0))
    }
    defer { lock?.unlock() }
    if let shared = sourceModel, FileManager.default.fileExists(atPath: shared.path) {
      try timed("source-load") { _ = try Checkpoint.load(shared, into: model) }
      let summary = summaryURL.flatMap { try? RunDirectory.readJSON(RunSummary.self, from: $0) }
      return (model, initial, summary)
    }
    if let shared = sourceModel, !trainIfMissing {
      throw AdaptationError.missingSourceModel(path: shared.path)
    }
    let sourceDir = try directory.map { try RunDirectory($0.appendingPathComponent("source")) }
    let summary = try timed("source-training") {
      try SinglePhaseProtocol.train(
        model: model, configuration: sourceConfig, data: sourceData,
        reference: initial, directory: sourceDir, resume: resume,
        progress: progress.map { p in { p("source", $0) } },
        augmentation: augmentation)
    }
    if let shared = sourceModel, let summaryURL, summary.status != .failed {
      try FileManager.default.createDirectory(
        at: shared.deletingLastPathComponent(), withIntermediateDirectories: true)
      try RunDirectory.writeJSON(summary, to: summaryURL)
      try Checkpoint.write(model, to: shared)
    }
    return (model, initial, summary)
  }

  /// Both test sets scored; also returns the class probabilities behind the scores. `shared`:
  /// the state is one other runs score too (`Trainer.predictShared`).
  func scoreBoth(_ model: TransferModel, shared: Bool = false)
    -> (pair: DomainPair, source: [Float]?, target: [Float])
  {
    timed("evaluation") {
      let predict: (TransferModel, ImageSet) -> [Float] =
        shared ? { Trainer.predictShared($0, $1) } : { Trainer.predict($0, $1) }
      let source = sourceTestComparable.map { predict(model, $0) }
      let target = predict(model, targetTest)
      return (
        DomainPair(
          source: zip2(sourceTestComparable, source).map {
            SinglePhaseProtocol.evaluate(probabilities: $1, on: $0, seed: seed)
          },
          target: SinglePhaseProtocol.evaluate(probabilities: target, on: targetTest, seed: seed)),
        source, target
      )
    }
  }

  /// The source test set scored with BatchNorm statistics re-estimated on source training
  /// images (the model's own statistics are put back afterwards); nil without source data.
  func scoreSourceWithOwnStatistics(_ model: TransferModel, shared: Bool = false)
    -> EvaluationReport?
  {
    guard let sourceTest = data.source?.test, sourceTest.classes == data.target.train.classes,
      let sourceTrain = data.source?.train, !model.batchNorms.isEmpty
    else { return nil }
    let saved = model.stateSnapshot()
    timed("adabn") { _ = AdaBN.adapt(model, on: sourceTrain, batchSize: first.batchSize) }
    let report = timed("evaluation") {
      SinglePhaseProtocol.evaluate(
        probabilities: shared
          ? Trainer.predictShared(model, sourceTest) : Trainer.predict(model, sourceTest),
        on: sourceTest, seed: seed)
    }
    model.restoreState(saved)
    return report
  }

  /// AdaBN on unlabelled target images (scored right after), then fine-tuning on the target
  /// labels; returns the weights adaptation started from for the drift measures.
  func adaptationPhase(_ model: TransferModel) throws
    -> (start: [String: [Float]], afterAdaBN: DomainPair?, fineTuning: RunSummary?)
  {
    var afterAdaBN: DomainPair?
    if configuration.adaBN {
      let unlabelled = data.target.unlabelledTarget ?? data.target.train
      timed("adabn") { _ = AdaBN.adapt(model, on: unlabelled, batchSize: first.batchSize) }
      afterAdaBN = scoreBoth(model, shared: true).pair
    }
    let start = model.snapshot()
    guard var tune = configuration.fineTune else { return (start, afterAdaBN, nil) }
    tune.adaBN = false
    try model.apply(tune.strategy)
    let targetDir = try directory.map { try RunDirectory($0.appendingPathComponent("target")) }
    let fineTuning = try timed("target-training") {
      try SinglePhaseProtocol.train(
        model: model, configuration: tune, data: data.target, reference: start,
        directory: targetDir, resume: resume,
        progress: progress.map { p in { p("target", $0) } },
        augmentation: augmentation)
    }
    return (start, afterAdaBN, fineTuning)
  }
}
