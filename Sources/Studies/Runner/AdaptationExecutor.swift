import Adaptation
import Backbones
import Datasets
import Foundation
import Interchange

/// Runs every network arm (scratch, linear-probe, features+logreg, partial(K), full, with
/// adabn / l2sp / dropout / coral modifiers) through Adaptation's source → target protocol.
///
/// Data: a generator dataset is rendered once (Datasets' phantom generator) into
/// `<cache>/phantoms/<spec sha>-<per class>x<size>-<seed>/`; `training.options` may set
/// `phantom_per_class` and `phantom_size` to shrink it. A manifest dataset is used as is. The
/// spec's `site`/`domain` picks the manifest's `domain` rows (`A` matches `site-a`).
///
/// Protocol per run: without `training.source_epochs` the model starts from the factory
/// (ImageNet weights, or He initialisation for scratch) and is adapted on the target budget;
/// with it, the model is first trained on all source labels (forgetting is then measured).
///
/// Bad rows and images that fail to decode follow `onBad` (the spec's `data.on_bad`): under
/// `.skip` they are left out, listed once in the study folder's `skipped-rows.txt` and on
/// stderr, and named in each run's notes (`skipped_rows`).
public struct AdaptationExecutor: RunExecutor {
  /// The bad-row policy for every dataset of the study.
  public var onBad: OnBad

  /// An executor with the studies' default policy, `.skip`.
  public init(onBad: OnBad = .skip) {
    self.onBad = onBad
  }

  public func canExecute(_ arm: ArmSpec) -> Bool { !arm.isBaseline }

  public func prepare(_ spec: StudySpec, context: StudyContext) throws -> StudyPreparation {
    var hashes: [String: String] = [:]
    var environment: [String: String] = [:]
    var notices: [String] = []
    var checked = Set<String>()
    let skippedRows = SkippedRowsLog(studyDirectory: context.studyDirectory)
    for ref in [spec.source] + spec.targets {
      let manifest = try Self.manifestURL(ref, options: spec.training.options, context: context)
      hashes[ref.key] = try DatasetFingerprint.content(manifest: manifest)
      // Each dataset is checked once here (every run loads it again), so what it lacks is
      // said once per study run, not once per run.
      guard checked.insert(manifest.path).inserted else { continue }
      let dataset: Dataset
      do {
        dataset = try DatasetLoader.load(manifest.path, options: DatasetLoadOptions(onBad: onBad))
      } catch let error as DatasetsError {
        throw Self.studyError(error)
      }
      notices += try skippedRows.record(dataset.skipped, dataset: manifest.path)
        .map { "skipped " + $0 }
      if let warning = dataset.patientWarning {
        notices.append("warning: " + warning)
        environment["dataset.\(ref.key).patients_unknown"] =
          "\(dataset.patientSources.unknown) of \(dataset.entries.count) images"
      }
    }
    let listed = skippedRows.count()
    if listed > 0 {
      notices.append("data: \(listed) skipped row(s) are listed in \(skippedRows.url.path)")
      environment["data.skipped_rows"] = "\(listed), listed in skipped-rows.txt"
    }
    let weights: PretrainedWeights
    do { weights = try PretrainedRegistry.weights(named: spec.backbone) } catch {
      throw StudiesError.runFailed(run: spec.name, reason: "backbone: \(error)")
    }
    guard let path = PretrainedRegistry.cachedPath(for: spec.backbone) else {
      throw StudiesError.runFailed(
        run: spec.name,
        reason: "pretrained weights \(weights.fileName) are not in "
          + "\(PretrainedRegistry.cacheRoot.path)/weights; run scripts/bootstrap")
    }
    environment["weights.\(weights.name).file"] = weights.fileName
    environment["weights.\(weights.name).sha256"] = try sha256Hex(
      ofFile: URL(fileURLWithPath: path))
    return StudyPreparation(datasetHashes: hashes, environment: environment, notices: notices)
  }

  /// A Datasets error as a study reports it: bad rows name the spec key that skips them.
  static func studyError(_ error: DatasetsError) -> Error {
    guard case .badRows(let path, let rows) = error else { return error }
    let shown = rows.prefix(5).map(\.description).joined(separator: "; ")
    let more = rows.count > 5 ? "; and \(rows.count - 5) more" : ""
    return StudiesError.manifest(
      path: path, row: nil,
      reason: "\(rows.count) bad row(s): \(shown)\(more); fix them or set data.on_bad: skip")
  }

  /// The images of one run, decoded and split, and where its source model is kept.
  struct RunInputs {
    var target: PreparedData
    var source: PreparedData
    var sourceManifest: URL
    var sourceDomain: String?
    var dataSeconds: Double
  }

  /// Prepares the run's target (budgeted) and source (all labels) data; rows met for the first
  /// time here (images that fail only when decoded) are printed once.
  func inputs(_ run: RunConfig, context: RunContext) throws -> RunInputs {
    let options = run.training.options
    let sourceManifest = try Self.manifestURL(run.source, options: options, context: context.study)
    let sourceDomain = try Self.domain(of: run.source, manifest: sourceManifest)
    let requests = try Self.dataRequests(run, context: context.study, onBad: onBad)
    let targetManifest = URL(fileURLWithPath: requests.target.source)
    let dataStart = Date()
    let target: PreparedData
    let source: PreparedData
    do {
      target = try DataPreparation.prepare(requests.target)
      source = try DataPreparation.prepare(requests.source)
    } catch let error as DatasetsError {
      throw Self.studyError(error)
    }
    let skippedRows = SkippedRowsLog(studyDirectory: context.study.studyDirectory)
    for (manifest, prepared) in [(targetManifest, target), (sourceManifest, source)] {
      for line in try skippedRows.record(prepared.notes.skipped, dataset: manifest.path) {
        context.log("skipped " + line)
      }
    }
    return RunInputs(
      target: target, source: source, sourceManifest: sourceManifest, sourceDomain: sourceDomain,
      dataSeconds: Date().timeIntervalSince(dataStart))
  }

  public func sourceModel(for run: RunConfig, context: StudyContext) throws -> URL? {
    guard Self.protocolConfiguration(run).source != nil else { return nil }
    let manifest = try Self.manifestURL(run.source, options: run.training.options, context: context)
    return try Self.sourceModel(
      run, manifest: manifest, domain: try Self.domain(of: run.source, manifest: manifest),
      context: context)
  }

  /// `sourceModel(for:)` for a run whose source manifest and domain are known already.
  static func sourceModel(_ run: RunConfig, manifest: URL, domain: String?, context: StudyContext)
    throws -> URL?
  {
    guard let source = protocolConfiguration(run).source else { return nil }
    return try sharedSourceModel(
      source, manifest: manifest, domain: domain, splits: splits(run), window: run.window,
      context: context)
  }

  /// The EfficientNet factory of a study's runs: every model keeps its frozen backbone's
  /// features in the study's `features/` folder (`FeatureStore`), so the frozen-backbone arms
  /// run each image through a given backbone once per study.
  static func factory(_ study: StudyContext) -> ModelFactory {
    ModelFactories.standard(
      storingFeaturesIn: FeatureStore(
        directory: study.studyDirectory.appendingPathComponent("features")))
  }

  /// Trains the run's shared source model unless it exists. Its checkpoints go to
  /// `<model>.work/`, so a stopped training continues where it stopped.
  public func trainSourceModel(for run: RunConfig, context: RunContext) throws {
    let configuration = Self.protocolConfiguration(run)
    guard let model = try sourceModel(for: run, context: context.study),
      !FileManager.default.fileExists(atPath: model.path)
    else { return }
    let inputs = try inputs(run, context: context)
    let work = URL(fileURLWithPath: model.path + ".work")
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    let resume = FileManager.default.fileExists(
      atPath: work.appendingPathComponent("source/resume.json").path)
    let summary = try SourceTargetProtocol.trainSourceModel(
      configuration, data: SourceTargetData(source: inputs.source.data, target: inputs.target.data),
      factory: Self.factory(context.study),
      sourceModel: model, directory: work, resume: resume,
      augmentation: inputs.target.augmentation)
    if let summary, summary.status == .failed {
      throw StudiesError.runFailed(
        run: "source model \(model.lastPathComponent)",
        reason: summary.error ?? "source training failed")
    }
    try? FileManager.default.removeItem(at: work)
  }

  public func execute(_ run: RunConfig, context: RunContext) throws -> RunResult {
    let started = Date()
    let inputs = try inputs(run, context: context)
    let (target, source) = (inputs.target, inputs.source)

    let configuration = Self.protocolConfiguration(run)
    let directory = context.checkpointDirectory
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let resume =
      context.attempt > 1
      && FileManager.default.fileExists(atPath: directory.appendingPathComponent("target").path)
    let trainingStart = Date()
    let report = context.reportEpoch
    // The study trained every shared source model before its runs (StudyRunner,
    // `study task --source-model`), so a missing one is an error, never trained here.
    let (result, adapted) = try SourceTargetProtocol.runKeepingModel(
      configuration,
      data: SourceTargetData(source: source.data, target: target.data),
      factory: Self.factory(context.study),
      directory: directory, resume: resume,
      sourceModel: try Self.sourceModel(
        run, manifest: inputs.sourceManifest, domain: inputs.sourceDomain, context: context.study),
      trainSourceModel: false,
      progress: { phase, p in
        guard phase == "target", p.step == p.steps else { return }
        report(
          EpochRecord(
            epoch: p.epoch, wallSeconds: Date().timeIntervalSince(trainingStart),
            trainLoss: p.loss, imagesPerSecond: p.imagesPerSecond))
      },
      augmentation: target.augmentation)
    let dataSeconds = inputs.dataSeconds

    var failure: String?
    if let tuning = result.fineTuning, tuning.status == .failed {
      failure = tuning.error ?? "target training failed"
    }
    var notes = try Self.notes(
      run, result: result, configuration: configuration, target: target, source: source,
      directory: directory, resumed: resume)
    notes["artifact"] = try Self.saveArtifact(
      adapted, run: run, configuration: configuration, data: target.provenance,
      directory: directory)
    return RunResult(
      target: result.afterAdaptation.target, source: result.afterAdaptation.source,
      epochs: result.fineTuningEpochs, monitor: run.training.monitor,
      forgetting: Self.forgettingRecord(result, metric: run.training.monitor),
      timings: Self.timingRecords(result, dataSeconds: dataSeconds),
      wallSeconds: Date().timeIntervalSince(started),
      imagesPerSecond: result.fineTuning?.imagesPerSecond,
      trainImages: target.data.train.count, failure: failure, notes: notes)
  }

  // MARK: - The protocol's result as the store's records

  /// "data" first, then the protocol's phases in the order they first ran, repeats summed.
  static func timingRecords(_ result: SourceTargetResult, dataSeconds: Double) -> [PhaseTiming] {
    var merged: [String: Double] = [:]
    var order: [String] = []
    for t in result.timings {
      if merged[t.phase] == nil { order.append(t.phase) }
      merged[t.phase, default: 0] += t.seconds
    }
    return [PhaseTiming(phase: "data", seconds: dataSeconds)]
      + order.map { PhaseTiming(phase: $0, seconds: merged[$0]!) }
  }

  /// Source scores before and after adaptation (with a source phase only) and weight drift.
  static func forgettingRecord(_ result: SourceTargetResult, metric: MetricName)
    -> ForgettingRecord
  {
    let hasSource = result.configuration.source != nil
    return ForgettingRecord(
      sourceBefore: hasSource ? result.beforeAdaptation.source.map { value($0, metric) } : nil,
      sourceAfter: hasSource ? result.afterAdaptation.source.map { value($0, metric) } : nil,
      targetBefore: hasSource ? value(result.beforeAdaptation.target, metric) : nil,
      stageDrift: result.driftFromAdaptationStart,
      sourceBeforeOwnStatistics: hasSource
        ? result.sourceBeforeWithOwnStatistics.map { value($0, metric) } : nil,
      sourceAfterOwnStatistics: hasSource
        ? result.sourceWithOwnStatistics.map { value($0, metric) } : nil,
      sourceModelShift: result.sourceModelShift)
  }

  /// The facts a run keeps beside its numbers (protocol, sizes, windows, skipped rows, …).
  static func notes(
    _ run: RunConfig, result: SourceTargetResult, configuration: SourceTargetConfiguration,
    target: PreparedData, source: PreparedData, directory: URL, resumed: Bool
  ) throws -> [String: String] {
    var notes: [String: String] = [
      "protocol": configuration.source == nil ? "target-only" : "source-then-target",
      "checkpoint": directory.path,
      "target.train": String(target.data.train.count),
      "target.test": String(target.data.test?.count ?? 0),
      "source.test": String(source.data.test?.count ?? 0),
      "target.gain.accuracy": String(format: "%.4f", result.targetGainAccuracy),
    ]
    if let tune = configuration.fineTune {
      notes["learning_rate"] = String(tune.learningRate)
      notes["optimizer"] = tune.optimizer.rawValue
      if let best = result.fineTuning?.bestEpoch { notes["best_epoch"] = String(best) }
    }
    if resumed { notes["resumed"] = "true" }
    notes["target.train.sha256"] = target.plan.trainSHA256
    let skipped = [("target", target), ("source", source)].compactMap { side, prepared in
      prepared.notes.skipped.isEmpty
        ? nil
        : "\(side) rows " + prepared.notes.skipped.map { String($0.row) }.joined(separator: ", ")
    }
    if !skipped.isEmpty {
      notes["skipped_rows"] = skipped.joined(separator: "; ") + " (see skipped-rows.txt)"
    }
    // The windows the images got, per side (the report's input-window line).
    for (side, prepared) in [("target", target), ("source", source)] {
      notes["window.\(side)"] = (prepared.provenance.windows ?? [:]).keys.sorted()
        .joined(separator: "; ")
    }
    return notes
  }

  // MARK: - Mapping

  /// Writes the adapted model as a run folder `<checkpoint dir>/target` (`model.safetensors`,
  /// `config.json`) that `medtransfer evaluate --checkpoint` loads: the artifact the run's
  /// "after adaptation" scores describe. The resume files (only needed while the run was
  /// unfinished) are removed. Returns the folder.
  static func saveArtifact(
    _ model: TransferModel, run: RunConfig, configuration: SourceTargetConfiguration,
    data: DataProvenance, directory: URL
  ) throws -> String {
    let folder = try RunDirectory(directory.appendingPathComponent("target"))
    var trained = configuration.fineTune ?? configuration.source ?? TrainingConfiguration()
    trained.adaBN = configuration.adaBN
    try Checkpoint.write(model, to: folder.bestCheckpointURL)
    try RunDirectory.writeJSON(
      RunConfigRecord(
        configuration: trained, data: data,
        weights: try? ModelFactories.weightsProvenance(trained.initialization),
        command: "medtransfer study run (\(run.label))", version: "the study's environment table"),
      to: folder.configURL)
    for phase in ["source", "target"] {
      try? RunDirectory(directory.appendingPathComponent(phase)).removeResumeState()
    }
    return folder.url.path
  }

  /// The data requests of a run: the target's (budgeted, with its domain as the unlabelled
  /// target) and the source's (all labels). Every executor takes its images from these, so
  /// every arm of a seed, the baseline included, sees the same split and the same budget.
  public static func dataRequests(_ run: RunConfig, context: StudyContext, onBad: OnBad)
    throws -> (target: DataRequest, source: DataRequest)
  {
    let options = run.training.options
    let sourceManifest = try manifestURL(run.source, options: options, context: context)
    let targetManifest = try manifestURL(run.target, options: options, context: context)
    let sourceDomain = try domain(of: run.source, manifest: sourceManifest)
    let targetDomain = try domain(of: run.target, manifest: targetManifest)
    let splits = Self.splits(run)
    let window = try Self.window(run)
    return (
      DataRequest(
        source: targetManifest.path, domains: targetDomain.map { [$0] } ?? [],
        targetDomain: targetDomain, inputSize: run.inputSize, labelsPerClass: run.budget.count,
        seed: run.seed, splits: splits, onBad: onBad, window: window),
      DataRequest(
        source: sourceManifest.path, domains: sourceDomain.map { [$0] } ?? [],
        inputSize: run.inputSize, labelsPerClass: nil, seed: run.seed, splits: splits,
        onBad: onBad, window: window)
    )
  }

  /// The spec's window (a `preprocessing.window` parsed when the spec was read cannot fail).
  static func window(_ run: RunConfig) throws -> Preprocessing.Window {
    try run.window.map { try Preprocessing.parseWindow($0, input: "preprocessing.window") } ?? .auto
  }

  /// The split fractions of a run (`training.options.splits`).
  static func splits(_ run: RunConfig) -> String {
    run.training.options["splits"] ?? "train=0.6,val=0.2,test=0.2"
  }

  /// Where the source phase of `configuration` on `manifest` is kept for every run that needs
  /// the same one: `<study>/source-models/<sha256 of config, data fingerprint, domain, splits>`.
  /// A set window is part of the key; without one the key is what it was before windows were
  /// selectable.
  static func sharedSourceModel(
    _ configuration: TrainingConfiguration, manifest: URL,
    domain: String?, splits: String, window: String? = nil,
    context: StudyContext
  ) throws
    -> URL
  {
    let config = String(
      decoding: try JSONCoding.encoder(.canonical).encode(configuration), as: UTF8.self)
    let key =
      ([config, try DatasetFingerprint.content(manifest: manifest), domain ?? "-", splits]
      + (window.map { ["window \($0)"] } ?? []))
      .joined(separator: "\n")
    return context.studyDirectory.appendingPathComponent("source-models")
      .appendingPathComponent(String(sha256Hex(Data(key.utf8)).prefix(24)) + ".safetensors")
  }

  /// The Adaptation protocol configuration a study run asks for.
  static func protocolConfiguration(_ run: RunConfig) -> SourceTargetConfiguration {
    let s = run.training
    var c = TrainingConfiguration()
    let isScratch = run.arm.strategy == .scratch
    c.initialization = isScratch ? .scratch(run.backbone) : .pretrained(run.backbone)
    run.arm.apply(to: &c)
    c.optimizer = s.optimizer
    c.learningRate = s.learningRate ?? (c.optimizer == .sgd ? 0.01 : 1e-3)
    // A scratch backbone has nothing worth protecting with a smaller learning rate.
    c.backboneLearningRateScale = isScratch ? 1 : s.backboneLearningRateScale
    c.weightDecay = s.weightDecay
    c.epochs = s.epochs
    c.batchSize = s.batchSize
    c.patience = s.patience > 0 ? s.patience : nil
    c.selectionMetric = s.monitor
    c.augment = s.augment
    c.inputSize = run.inputSize
    c.labelsPerClass = run.budget.count
    c.seed = run.seed
    if let w = s.options["warmup_epochs"].flatMap(Int.init) { c.warmupEpochs = w }
    if let m = s.options["min_steps_per_epoch"].flatMap(Int.init) {
      c.minimumStepsPerEpoch = m > 0 ? m : nil
    }
    if let m = s.options["bn_momentum"].flatMap(Double.init) {
      c.batchNormMomentum = m > 0 ? m : nil
    }
    var source: TrainingConfiguration?
    if let sourceEpochs = s.sourceEpochs {
      var sc = c
      sc.strategy = isScratch ? .scratch : .full
      sc.regularizer = .none
      sc.coralWeight = nil
      sc.labelsPerClass = nil
      sc.epochs = sourceEpochs
      source = sc
    }
    let fineTune: TrainingConfiguration? = run.arm.strategy == .untrained ? nil : c
    return SourceTargetConfiguration(source: source, adaBN: run.arm.adaBN, fineTune: fineTune)
  }

  static func value(_ report: EvaluationReport, _ metric: MetricName) -> Double {
    report.overall.value(of: metric)
  }

  // MARK: - Data

  /// The manifest CSV behind `ref`, rendering generator datasets into the cache first.
  public static func manifestURL(
    _ ref: DatasetRef, options: [String: String], context: StudyContext
  )
    throws -> URL
  {
    let url = context.resolve(ref.path)
    switch ref.kind {
    case .manifest:
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw StudiesError.manifest(path: url.path, row: nil, reason: "file not found")
      }
      return url
    case .generator:
      do {
        return try PhantomCache.manifest(
          spec: url, perClass: options["phantom_per_class"].flatMap(Int.init),
          size: options["phantom_size"].flatMap(Int.init), seed: ref.seed.map(UInt64.init),
          cacheRoot: context.cacheDirectory,
          log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
      } catch DatasetsError.invalidSpec(let path, let cause) {
        throw StudiesError.manifest(path: path, row: nil, reason: cause)
      }
    }
  }

  /// The manifest `domain` value the spec's site/domain names (`A` → `site-a`).
  static func domain(of ref: DatasetRef, manifest: URL) throws -> String? {
    guard let site = ref.site else { return nil }
    do {
      return try DatasetLoader.domain(named: site, in: manifest)
    } catch DatasetsError
      .invalidManifest(let path, let cause)
    {
      throw StudiesError.manifest(path: path, row: nil, reason: cause)
    }
  }

}
