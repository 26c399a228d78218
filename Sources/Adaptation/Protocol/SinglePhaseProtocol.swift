import Foundation
import Metrics
import Neural

/// The splits one run uses, already preprocessed (and budgeted: `train` holds only the labels
/// the run may see).
public struct RunData {
  /// Labelled training images (after the label budget).
  public var train: ImageSet
  /// Validation images for early stopping (nil: keep the last epoch).
  public var validation: ImageSet?
  /// Held-out test images evaluated with the kept checkpoint.
  public var test: ImageSet?
  /// Unlabelled images of the target domain, for AdaBN and CORAL.
  public var unlabelledTarget: ImageSet?

  /// Creates the data of a run.
  public init(
    train: ImageSet, validation: ImageSet? = nil, test: ImageSet? = nil,
    unlabelledTarget: ImageSet? = nil
  ) {
    self.train = train
    self.validation = validation
    self.test = test
    self.unlabelledTarget = unlabelledTarget
  }
}

/// Builds the model a configuration asks for: the backbone (pretrained or He-initialised) with a
/// new head for `classes` classes and `channels` input channels.
///
/// The default factory comes from Backbones (`TransferModel.make`); tests pass tiny ones.
public typealias ModelFactory = (
  _ configuration: TrainingConfiguration, _ classes: Int,
  _ channels: Int
) throws -> TransferModel

/// One training phase end to end: build, apply the strategy, AdaBN, train, test, drift (what
/// `medtransfer train` runs; `SourceTargetProtocol` chains a source and a target phase).
public enum SinglePhaseProtocol {
  /// Trains a model as `configuration` says on `data` and evaluates it on `data.test`.
  ///
  /// With `directory`, writes `metrics.jsonl`, checkpoints and `summary.json` (the caller writes
  /// `config.json`, which also needs the data's hashes). A NaN/inf loss is recorded in the
  /// summary (`status == .failed`), not thrown. Returns the summary and the trained model.
  public static func run(
    configuration: TrainingConfiguration, data: RunData,
    factory: ModelFactory, directory: RunDirectory? = nil,
    resume: Bool = false,
    progress: ((TrainingProgress) -> Void)? = nil,
    augmentation: ((Tensor, UInt64) -> Void)? = nil
  ) throws
    -> (summary: RunSummary, model: TransferModel)
  {
    let classes = data.train.classes.count
    guard classes >= 2 else { throw AdaptationError.badLabels(reason: "fewer than two classes") }
    let model = try factory(configuration, classes, data.train.channels)
    try model.apply(configuration.strategy)
    if configuration.adaBN, let target = data.unlabelledTarget {
      AdaBN.adapt(model, on: target, batchSize: configuration.batchSize)
    }
    let start = model.snapshot()
    let summary = try train(
      model: model, configuration: configuration, data: data,
      reference: start, directory: directory, resume: resume,
      progress: progress, augmentation: augmentation)
    return (summary, model)
  }

  /// Trains an existing model (strategy already applied) and evaluates it; `reference` is the
  /// anchor for the drift report (e.g. the ImageNet weights).
  public static func train(
    model: TransferModel, configuration: TrainingConfiguration,
    data: RunData, reference: [String: [Float]],
    directory: RunDirectory? = nil, resume: Bool = false,
    progress: ((TrainingProgress) -> Void)? = nil,
    augmentation: ((Tensor, UInt64) -> Void)? = nil
  ) throws -> RunSummary {
    var summary: RunSummary
    if configuration.strategy == .featuresLogReg {
      summary = try fitLogisticRegression(model: model, configuration: configuration, data: data)
      // The fitted regression is the model's head now: what the arm deploys, what its test,
      // target and source scores measure, and what `evaluate` reloads from the checkpoint.
      if let directory { try Checkpoint.write(model, to: directory.bestCheckpointURL) }
      if let test = data.test {
        summary.test = evaluate(model, on: test, seed: UInt64(configuration.seed))
      }
    } else {
      let trainer = Trainer(
        model: model, configuration: configuration,
        penalty: model.penalty(configuration.regularizer))
      trainer.runDirectory = directory
      trainer.onProgress = progress
      trainer.augmentation = configuration.augment ? augmentation : nil
      let outcome = try trainer.fit(
        train: data.train, validation: data.validation,
        unlabelledTarget: configuration.coralWeight == nil
          ? nil
          : data.unlabelledTarget, resume: resume)
      summary = outcome.summary
      summary.epochs = outcome.epochs
      if let test = data.test {
        summary.test = evaluate(model, on: test, seed: UInt64(configuration.seed))
      }
    }
    summary.drift = model.drift(from: reference)
    if let directory { try RunDirectory.writeJSON(summary, to: directory.summaryURL) }
    return summary
  }

  /// Evaluates `model` on `set` with every breakdown the set's metadata allows.
  public static func evaluate(_ model: TransferModel, on set: ImageSet, seed: UInt64 = 0)
    -> EvaluationReport
  {
    evaluate(probabilities: Trainer.predict(model, set), on: set, seed: seed)
  }

  /// The same report from class probabilities already computed on `set` (N × K, row-major).
  public static func evaluate(probabilities: [Float], on set: ImageSet, seed: UInt64 = 0)
    -> EvaluationReport
  {
    Evaluator.report(
      probabilities: probabilities, labels: set.labels,
      classes: set.classes, domains: set.domains, subgroups: set.subgroups,
      seed: seed)
  }

  /// `features+logreg`: frozen features → L2-regularised multinomial logistic regression
  /// (Metrics' `LogisticRegression`, L-BFGS on standardised features), written into the
  /// model's linear head with the standardisation folded in, so that the model from then on
  /// *is* the fitted regression: logits = W·(f − μ)/σ + b = (W/σ)·f + (b − W·μ/σ).
  static func fitLogisticRegression(
    model: TransferModel, configuration: TrainingConfiguration,
    data: RunData
  ) throws -> RunSummary {
    let started = Date()
    guard model.head.hiddenUnits == nil else {
      throw AdaptationError.badLabels(
        reason: "features+logreg deploys a linear head; drop hidden_units for this arm")
    }
    let train = model.extractFeatures(data.train)
    let fit: LogisticRegression
    do {
      fit = try LogisticRegression.fit(
        features: try FeatureMatrix(
          rows: train.count, columns: train.dimension,
          values: train.features),
        labels: train.labels, classCount: model.head.classes,
        options: .init(l2: configuration.logisticL2))
    } catch {
      throw AdaptationError.badLabels(reason: "features+logreg could not fit: \(error)")
    }
    model.head.setLinear(logisticRegression: fit)
    let seconds = Date().timeIntervalSince(started)
    return RunSummary(
      status: .completed, error: nil, epochsRun: 0, bestEpoch: 0,
      bestValidationValue: nil, selectionMetric: configuration.selectionMetric,
      trainImages: data.train.count, seconds: seconds,
      imagesPerSecond: Double(data.train.count) / max(seconds, 1e-9),
      test: nil, drift: [])
  }
}
