import Foundation
import Neural

/// What the trainer reports while it runs (the CLI draws a progress bar from it).
public struct TrainingProgress: Sendable {
  /// 1-based epoch and the maximum.
  public var epoch: Int, epochs: Int
  /// 1-based step within the epoch and the epoch's steps.
  public var step: Int, steps: Int
  /// Running mean training loss this epoch.
  public var loss: Double
  /// Training images per second this epoch.
  public var imagesPerSecond: Double
  /// The selection metric of the last finished epoch.
  public var validationValue: Double?
}

/// The outcome of `Trainer.fit`: the summary (test left empty) and the epoch records.
public struct TrainingOutcome {
  /// What `summary.json` holds (without the test evaluation).
  public var summary: RunSummary
  /// One record per epoch.
  public var epochs: [EpochLog]
}

/// Trains a `TransferModel`: cross-entropy + weight penalty (+ CORAL), optimizer step on a
/// warmup-cosine schedule, validation each epoch, early stopping with the best weights kept,
/// NaN/inf detection, and resumable checkpoints.
///
/// With a frozen backbone (linear probe, `partial(0)`) features are extracted once and the head
/// trains on the cached features, which makes those arms cheap (no augmentation then: the
/// features are fixed by design).
public final class Trainer {
  /// The model (strategy already applied, see `TransferModel.apply`).
  public let model: TransferModel
  /// The configuration.
  public let configuration: TrainingConfiguration
  /// The weight penalty (L2-SP); build it right after loading the starting weights.
  public let penalty: WeightPenalty
  /// Progress callback (called after every step).
  public var onProgress: ((TrainingProgress) -> Void)?
  /// Where checkpoints and `metrics.jsonl` go (nil: in memory only).
  public var runDirectory: RunDirectory?
  /// In-place augmentation of a training batch (N, H, W, C), seeded per step (from Datasets).
  public var augmentation: ((Tensor, UInt64) -> Void)?
  /// Tests only: throw `CancellationError` right after this epoch's state is written, as a
  /// process killed there would stop.
  var interruptAfterEpoch: Int?

  /// Creates a trainer.
  public init(model: TransferModel, configuration: TrainingConfiguration, penalty: WeightPenalty) {
    self.model = model
    self.configuration = configuration
    self.penalty = penalty
  }

  /// What `resume.json` records after every epoch: everything the remaining epochs depend on
  /// that the files it names do not hold. Written last (atomically), after the files it names,
  /// so a kill at any moment leaves a consistent state of some finished epoch.
  struct ResumeState: Codable {
    /// The last finished epoch.
    var epoch: Int
    var stopping: EarlyStopping
    var optimizerSteps: Int
    var startedAt: Double
    /// The epoch records so far (metrics.jsonl may hold a torn or later line).
    var records: [EpochLog]
    /// Under `resume/`: the model state after `epoch`, the optimizer state, the best weights.
    var checkpoint: String
    var optimizer: String
    /// Nil while no epoch has been the best (the best weights are then the initial ones).
    var best: String?
  }

  /// Trains on `train`, selects on `validation` (or the last epoch without one), optionally
  /// aligning features to `unlabelledTarget` with CORAL. Leaves the best weights in the model.
  ///
  /// Never throws for a training failure: a NaN/inf loss ends the run with `status == .failed`
  /// and the error in the summary, and the model keeps the best weights seen before it.
  public func fit(
    train: ImageSet, validation: ImageSet?, unlabelledTarget: ImageSet? = nil,
    resume: Bool = false
  ) throws -> TrainingOutcome {
    guard train.count > 0 else { throw AdaptationError.emptySplit("train") }
    let config = configuration
    let frozenBackbone = model.backboneIsFrozen
    let started = Date()
    if let m = config.batchNormMomentum {
      for bn in model.batchNorms { bn.layer.statisticsMomentum = Float(m) }
    }
    let optimizer = model.makeOptimizer(config)
    let loss = SoftmaxCrossEntropy()
    let stepsPerEpoch = epochBatches(train, epoch: 0).count
    let schedule = CosineSchedule(
      warmupSteps: config.warmupEpochs * stepsPerEpoch,
      totalSteps: max(config.epochs * stepsPerEpoch, 1))
    var stopping = EarlyStopping(patience: config.patience)
    var records: [EpochLog] = []
    var firstEpoch = 1
    var globalStep = 0
    var elapsedBefore = 0.0
    var best: [String: [Float]] = model.stateSnapshot()

    // A resumed run restores the model, the optimizer's moments, the best weights, the
    // early-stopping state and the records of its last finished epoch; every random stream
    // (batch order, dropout, augmentation, CORAL pairing) is derived from the seed and the
    // epoch or step, so the remaining epochs are those of an uninterrupted run, bit for bit.
    // A state from an older layout (or none) starts the run over, which is exact too.
    var bestFile: String?
    if resume, let dir = runDirectory,
      let state = try? RunDirectory.readJSON(ResumeState.self, from: dir.resumeStateURL)
    {
      if let file = state.best {
        try Checkpoint.load(dir.resumeFile(file), into: model)
        best = model.stateSnapshot()
        bestFile = file
      }
      try Checkpoint.load(dir.resumeFile(state.checkpoint), into: model)
      do {
        try optimizer.loadStateDict(
          try SafeTensors.read(contentsOf: dir.resumeFile(state.optimizer)).dictionary)
      } catch {
        throw AdaptationError.checkpointUnreadable(
          path: dir.resumeFile(state.optimizer).path, reason: "\(error)")
      }
      records = state.records
      try dir.rewriteMetrics(records)
      stopping = state.stopping
      firstEpoch = state.epoch + 1
      globalStep = state.optimizerSteps
      elapsedBefore = state.startedAt
    } else if let dir = runDirectory {
      try? FileManager.default.removeItem(at: dir.metricsURL)
      try? FileManager.default.removeItem(at: dir.resumeStateURL)
      try? FileManager.default.removeItem(at: dir.resumeFolderURL)
    }
    // Cached features for a frozen backbone (after a resume has restored the backbone).
    let trainFeatures = frozenBackbone ? model.extractFeatures(train) : nil
    let validationFeatures = frozenBackbone ? validation.map { model.extractFeatures($0) } : nil

    var failure: String?
    var epoch = firstEpoch - 1
    var totalImages = records.reduce(0.0) { $0 + $1.imagesPerSecond * $1.seconds }
    var totalTrainSeconds = records.reduce(0.0) { $0 + $1.seconds }
    training: while epoch < config.epochs && !stopping.shouldStop {
      epoch += 1
      let epochStart = Date()
      let batches = epochBatches(train, epoch: epoch)
      model.head.reseedDropout(UInt64(config.seed) &* 7_919 &+ UInt64(epoch))
      var lossSum = 0.0
      var ceSum = 0.0
      var images = 0
      var targetOrder =
        unlabelledTarget?.batchIndices(
          size: config.batchSize, shuffleSeed: UInt64(config.seed) &+ UInt64(epoch) &* 31) ?? []
      for (stepIndex, indices) in batches.enumerated() {
        model.zeroGrad()
        let labels = indices.map { train.labels[$0] }
        optimizer.learningRateFactor = schedule.factor(at: globalStep)
        var stepLoss: Double
        if let cached = trainFeatures {
          let logits = model.head.forward(cached.batch(indices), mode: .training)
          let ce = Double(loss.forward(logits: logits, labels: labels))
          _ = model.head.backward(loss.backward())
          stepLoss = ce
          ceSum += ce
        } else {
          let batch = train.batch(indices)
          if let augment = augmentation {
            augment(batch, UInt64(config.seed) &* 104_729 &+ UInt64(globalStep))
          }
          var input = batch
          var targetRows = 0
          if let weight = config.coralWeight, weight > 0, let target = unlabelledTarget {
            if targetOrder.isEmpty {
              targetOrder = target.batchIndices(
                size: config.batchSize,
                shuffleSeed: UInt64(globalStep) &+ 17)
            }
            let t = targetOrder.removeFirst()
            if t.count >= 2 {
              input = concatenate(batch, target.batch(t))
              targetRows = t.count
            }
          }
          let features = model.backbone.forward(input, mode: .training)
          let n = indices.count
          let d = model.featureDimension
          let sourceFeatures = targetRows > 0 ? rows(features, 0, n) : features
          let logits = model.head.forward(sourceFeatures, mode: .training)
          let ce = Double(loss.forward(logits: logits, labels: labels))
          let dSource = model.head.backward(loss.backward())
          stepLoss = ce
          ceSum += ce
          let dFeatures: Tensor
          if targetRows > 0, let weight = config.coralWeight {
            let f = features.array
            let coral = CORALLoss.compute(
              source: Array(f[0..<(n * d)]), sourceCount: n,
              target: Array(f[(n * d)...]), targetCount: targetRows, dimension: d)
            stepLoss += weight * coral.loss
            dFeatures = Tensor(shape: [n + targetRows, d])
            let w = Float(weight)
            for i in 0..<(n * d) { dFeatures[i] = dSource[i] + w * coral.sourceGradient[i] }
            for i in 0..<(targetRows * d) { dFeatures[n * d + i] = w * coral.targetGradient[i] }
          } else {
            dFeatures = dSource
          }
          _ = model.backbone.backward(dFeatures)
        }
        stepLoss += penalty.value()
        penalty.accumulateGradients()
        guard stepLoss.isFinite else {
          failure =
            AdaptationError.nonFiniteLoss(
              epoch: epoch, step: stepIndex + 1,
              value: Float(stepLoss)
            ).description
          break training
        }
        optimizer.step()
        globalStep += 1
        lossSum += stepLoss
        images += indices.count
        let seconds = Date().timeIntervalSince(epochStart)
        onProgress?(
          TrainingProgress(
            epoch: epoch, epochs: config.epochs, step: stepIndex + 1, steps: batches.count,
            loss: lossSum / Double(stepIndex + 1),
            imagesPerSecond: Double(images) / max(seconds, 1e-9),
            validationValue: records.last?.validation?.value(of: config.selectionMetric)))
      }
      let trainSeconds = Date().timeIntervalSince(epochStart)
      totalImages += Double(images)
      totalTrainSeconds += trainSeconds
      var validationMetrics: ValidationMetrics?
      if let validation {
        let p = validationFeatures.map { predictFeatures($0) } ?? predict(validation)
        validationMetrics = Evaluator.validation(
          probabilities: p, labels: validation.labels,
          classes: validation.classes.count)
      }
      let value = validationMetrics?.value(of: config.selectionMetric) ?? -lossSum
      let isBest = stopping.record(value, epoch: epoch)
      if isBest { best = model.stateSnapshot() }
      let record = EpochLog(
        epoch: epoch, trainLoss: lossSum / Double(max(batches.count, 1)),
        trainCrossEntropy: ceSum / Double(max(batches.count, 1)), validation: validationMetrics,
        learningRate: config.learningRate * schedule.factor(at: max(globalStep - 1, 0)),
        seconds: Date().timeIntervalSince(epochStart),
        elapsedSeconds: elapsedBefore + Date().timeIntervalSince(started),
        imagesPerSecond: Double(images) / max(trainSeconds, 1e-9), isBest: isBest)
      records.append(record)
      if let dir = runDirectory {
        try dir.appendMetrics(record)
        if isBest {
          try Checkpoint.write(model, to: dir.bestCheckpointURL)
          try Checkpoint.write(model, to: dir.resumeFile("best-\(epoch).safetensors"))
          bestFile = "best-\(epoch).safetensors"
        }
        try Checkpoint.write(model, to: dir.resumeFile("epoch-\(epoch).safetensors"))
        try SafeTensors.write(
          optimizer.stateDict(), to: dir.resumeFile("epoch-\(epoch).optimizer.safetensors"))
        try RunDirectory.writeJSON(
          ResumeState(
            epoch: epoch, stopping: stopping, optimizerSteps: globalStep,
            startedAt: record.elapsedSeconds, records: records,
            checkpoint: "epoch-\(epoch).safetensors",
            optimizer: "epoch-\(epoch).optimizer.safetensors", best: bestFile),
          to: dir.resumeStateURL)
        dir.removeResumeFiles(
          except: Set(
            ["epoch-\(epoch).safetensors", "epoch-\(epoch).optimizer.safetensors"]
              + (bestFile.map { [$0] } ?? [])))
      }
      if epoch == interruptAfterEpoch { throw CancellationError() }
    }
    model.restoreState(best)
    if let dir = runDirectory, stopping.bestEpoch == 0 || failure != nil,
      !FileManager.default.fileExists(atPath: dir.bestCheckpointURL.path)
    {
      try Checkpoint.write(model, to: dir.bestCheckpointURL)
    }
    let status: TrainingStatus =
      failure != nil
      ? .failed
      : (epoch < config.epochs ? .stoppedEarly : .completed)
    let summary = RunSummary(
      status: status, error: failure, epochsRun: epoch, bestEpoch: stopping.bestEpoch,
      bestValidationValue: stopping.bestEpoch > 0 && validation != nil ? stopping.best : nil,
      selectionMetric: config.selectionMetric, trainImages: train.count,
      seconds: elapsedBefore + Date().timeIntervalSince(started),
      imagesPerSecond: totalImages / max(totalTrainSeconds, 1e-9), test: nil, drift: [])
    return TrainingOutcome(summary: summary, epochs: records)
  }

  /// Class probabilities (N × K, row-major) for `set` in inference mode.
  public func predict(_ set: ImageSet) -> [Float] { Trainer.predict(model, set) }

  /// Class probabilities of the head on cached features.
  public func predictFeatures(_ set: FeatureSet) -> [Float] {
    Trainer.predict(model, features: set, batchSize: 256)
  }

  /// Class probabilities (N × K) of `model`'s head on `features`, in batches of `batchSize`.
  static func predict(_ model: TransferModel, features: FeatureSet, batchSize: Int) -> [Float] {
    var out: [Float] = []
    out.reserveCapacity(features.count * model.head.classes)
    for indices in Self.batchesOf(features.count, batchSize) {
      let logits = model.head.forward(features.batch(indices), mode: .inference)
      out += Softmax.probabilities(
        logits.array, rows: indices.count, classes: model.head.classes)
    }
    return out
  }

  /// Class probabilities (N × K) of `model` on `set`, inference mode.
  public static func predict(_ model: TransferModel, _ set: ImageSet, batchSize: Int = 64)
    -> [Float]
  {
    if model.featureStore != nil && model.backboneIsFrozen {
      // The head on the stored features, in the same batches: the same bits.
      return predict(
        model, features: model.extractFeatures(set, batchSize: batchSize), batchSize: batchSize)
    }
    var out: [Float] = []
    out.reserveCapacity(set.count * model.head.classes)
    for indices in set.batchIndices(size: batchSize, shuffleSeed: nil) {
      out += model.probabilities(set.batch(indices))
    }
    return out
  }

  /// `predict`, kept in the model's `FeatureStore` when it has one: for scores of a state that
  /// other runs share (a study's source model before adaptation, on the same test sets).
  public static func predictShared(_ model: TransferModel, _ set: ImageSet, batchSize: Int = 64)
    -> [Float]
  {
    guard let store = model.featureStore else { return predict(model, set, batchSize: batchSize) }
    return store.probabilities(model, set, batchSize: batchSize) {
      predict(model, set, batchSize: batchSize)
    }
  }

  // MARK: - Helpers

  /// One epoch's mini-batches: shuffled passes over `train` until there are at least
  /// `minimumStepsPerEpoch` of them (one pass when that is nil or already reached).
  func epochBatches(_ train: ImageSet, epoch: Int) -> [[Int]] {
    let size = min(configuration.batchSize, train.count)
    let seed = UInt64(configuration.seed) &* 1_000_003 &+ UInt64(epoch)
    var batches = train.batchIndices(size: size, shuffleSeed: seed, dropLast: true)
    var pass: UInt64 = 1
    while batches.count < (configuration.minimumStepsPerEpoch ?? 0) {
      batches += train.batchIndices(
        size: size, shuffleSeed: seed &+ pass &* 0x9E37_79B9,
        dropLast: true)
      pass += 1
    }
    return batches
  }

  private static func batchesOf(_ n: Int, _ size: Int) -> [[Int]] {
    stride(from: 0, to: n, by: size).map { Array($0..<min($0 + size, n)) }
  }
}

/// (a; b) along the batch axis.
func concatenate(_ a: Tensor, _ b: Tensor) -> Tensor {
  precondition(
    Array(a.shape.dropFirst()) == Array(b.shape.dropFirst()),
    "Cannot stack batches of shapes \(a.shape) and \(b.shape).")
  var shape = a.shape
  shape[0] += b.shape[0]
  let t = Tensor(shape: shape)
  t.data.update(from: a.data, count: a.count)
  (t.data + a.count).update(from: b.data, count: b.count)
  return t
}

/// Rows start..<start+count of an (N, D) tensor.
func rows(_ x: Tensor, _ start: Int, _ count: Int) -> Tensor {
  let d = x.shape[1]
  let t = Tensor(shape: [count, d])
  t.data.update(from: x.data + start * d, count: count * d)
  return t
}
