import Backbones
import Datasets
import Foundation
import Metrics

/// What `medtransfer shift --json` prints: every shift analysis between two samples, plus the
/// transferability scores of the available backbones on the target labels.
public struct ShiftDocument: Codable, Sendable {
  /// One side of the comparison.
  public struct Side: Codable, Sendable {
    /// The dataset as given (manifest, ImageFolder or DICOM tree).
    public var dataset: String
    /// Display name.
    public var name: String
    /// The domain selected, if any.
    public var domain: String?
    /// The split selected, if any.
    public var split: String?
    /// Images analysed.
    public var images: Int
    /// Images per class name.
    public var classCounts: [String: Int]
  }

  /// LogME of one backbone's pooled features on the target labels.
  public struct Transferability: Codable, Sendable {
    /// Backbone architecture ("efficientnet-lite0").
    public var backbone: String
    /// "imagenet" (pretrained weights) or "random" (He initialisation, the no-transfer baseline).
    public var initialization: String
    /// Feature dimension.
    public var featureDimension: Int
    /// Target images scored.
    public var images: Int
    /// Mean per-class LogME evidence (higher predicts better transfer).
    public var logME: Double
    /// Per-class LogME.
    public var perClass: [Double]
  }

  /// A trained model's predictions on both sides (with `--layer softmax`): what black-box
  /// shift detection (Lipton et al. 2018; Rabanser et al. 2019) compares, and the difference of
  /// confidences (Guillory et al. 2021), an estimate of the accuracy drop that needs no target
  /// labels. Trained networks are overconfident, so it tends to underestimate the drop.
  public struct Predictions: Codable, Sendable {
    /// Mean over images of the largest class probability.
    public var sourceMeanConfidence: Double
    public var targetMeanConfidence: Double
    /// Source minus target mean confidence.
    public var confidenceDrop: Double
    /// Share of images predicted as each class.
    public var sourcePredicted: [String: Double]
    public var targetPredicted: [String: Double]

    /// The summary of two (rows × classes) probability matrices.
    public init(source: FeatureMatrix, target: FeatureMatrix, classes: [String]) {
      func predictedShares(_ p: FeatureMatrix) -> [String: Double] {
        var counts = [Int](repeating: 0, count: p.columns)
        for i in 0..<p.rows {
          let row = p.row(i)
          counts[row.indices.max { row[$0] < row[$1] }!] += 1
        }
        let n = Double(max(p.rows, 1))
        return Dictionary(
          uniqueKeysWithValues: counts.indices.map { (classes[$0], Double(counts[$0]) / n) })
      }
      sourceMeanConfidence = PredictionShift.meanConfidence(source)
      targetMeanConfidence = PredictionShift.meanConfidence(target)
      confidenceDrop = sourceMeanConfidence - targetMeanConfidence
      sourcePredicted = predictedShares(source)
      targetPredicted = predictedShares(target)
    }
  }

  /// Layout version of this document.
  public var schemaVersion: Int
  /// The source side.
  public var source: Side
  /// The target side.
  public var target: Side
  /// Class names in label-index order (shared by both sides).
  public var classes: [String]
  /// The backbone whose pooled features are compared.
  public var model: String
  /// The layer of `model` whose globally pooled output is compared (`head_conv`: the
  /// penultimate features; see `EfficientNetLite.featureLayers`). Nil in documents written
  /// before layers were selectable, which all compared `head_conv`.
  public var layer: String?
  /// Square network input size.
  public var inputSize: Int
  /// Network input preprocessing: the window policy, input size, and how many images of
  /// each side got which window.
  public var preprocessing: String
  /// Every shift measurement (features, intensities, headers, labels, tests, embedding).
  public var analysis: ShiftReport
  /// The trained model's predictions on both sides (`--layer softmax` only).
  public var predictions: Predictions?
  /// LogME per available backbone and the random-init baseline (empty without ≥ 2 target
  /// classes).
  public var transferability: [Transferability]
  /// Wall-clock seconds per phase ("decode+features", "analysis", "total").
  public var seconds: [String: Double]
  /// How to read the numbers (what each interval means, what was skipped and why).
  public var notes: [String]
}

/// The whole `shift` pipeline on two samples: one decode per image (`ShiftSampleExtractor`),
/// features of the chosen pretrained backbone on both, features of the other cached backbones
/// and of a random-init backbone on the target (for LogME), then `ShiftAnalysis.run`.
public enum FeatureShiftRun {
  /// Settings of a run.
  public struct Request: Sendable {
    /// Source and target samples.
    public var source: ShiftSample
    public var target: ShiftSample
    /// How each side was selected, for the document.
    public var sourceSide: (dataset: String, domain: String?, split: String?)
    public var targetSide: (dataset: String, domain: String?, split: String?)
    /// Backbone compared ("efficientnet-lite0").
    public var model: String
    /// Square input size.
    public var inputSize: Int
    /// Shift analysis settings (permutations, bootstrap, seed, …).
    public var options: ShiftAnalysis.Options
    /// Also score the other pretrained backbones whose weights are cached, and a random-init
    /// baseline, with LogME on the target labels.
    public var transferability: Bool
    /// Seed of the random-init baseline.
    public var seed: UInt64
    /// LogME is computed on at most about this many target images (an even stride over the
    /// target sample, the same images for every backbone), because each extra backbone costs
    /// a forward pass per image.
    public var logMEImages: Int
    /// A run folder of `medtransfer train` (or a study checkpoint folder with config.json):
    /// compare that trained network's pooled features instead of the ImageNet backbone's.
    /// Features a model learned on the task see the lesions, not only the scanner; LogME is
    /// then skipped (it ranks pretrained backbones before training).
    public var checkpoint: String?
    /// The compared network's layer (`EfficientNetLite.featureLayers`, or `softmax`: a trained
    /// checkpoint's class probabilities; nil: `head_conv`, the penultimate features). LogME
    /// always scores the penultimate features.
    public var layer: String?
    /// The VOI window (`--window`); nil: `auto`, or with `checkpoint` the run's own.
    public var window: Preprocessing.Window?

    /// A request with the defaults of `medtransfer shift`.
    public init(
      source: ShiftSample, target: ShiftSample,
      sourceSide: (dataset: String, domain: String?, split: String?),
      targetSide: (dataset: String, domain: String?, split: String?),
      model: String = "efficientnet-lite0", inputSize: Int = 128,
      options: ShiftAnalysis.Options = .init(), transferability: Bool = true, seed: UInt64 = 0,
      logMEImages: Int = 500
    ) {
      self.logMEImages = logMEImages
      self.source = source
      self.target = target
      self.sourceSide = sourceSide
      self.targetSide = targetSide
      self.model = model
      self.inputSize = inputSize
      self.options = options
      self.transferability = transferability
      self.seed = seed
    }
  }

  /// The best checkpoint of a run folder (config.json + model.safetensors), its architecture
  /// and input size; errors name the folder and what is missing.
  static func trainedModel(_ path: String) throws
    -> (
      model: TransferModel, architecture: String, inputSize: Int, classes: [String],
      preprocessing: Preprocessing?
    )
  {
    let (model, record) = try RunDirectory(URL(fileURLWithPath: path)).loadBestModel()
    let architecture: String
    switch record.configuration.initialization {
    case .pretrained(let name), .scratch(let name): architecture = name
    }
    return (
      model, architecture, record.configuration.inputSize, record.data.classes,
      Preprocessing.recorded(record.data.preprocessing)
    )
  }

  /// Runs the analysis; `log` receives progress lines (for stderr).
  public static func run(_ request: Request, log: (String) -> Void = { _ in }) throws
    -> ShiftDocument
  {
    let clock = Date()
    let classes = Array(
      Set(request.source.dataset.labels).union(request.target.dataset.labels)
    ).sorted()
    var request = request
    var primary = try PretrainedRegistry.weights(named: request.model).name
    var models: [(name: String, initialization: String, model: TransferModel)] = []
    func make(_ initialization: Initialization) throws -> TransferModel {
      var configuration = TrainingConfiguration()
      configuration.initialization = initialization
      configuration.seed = Int(truncatingIfNeeded: request.seed)
      return try ModelFactories.efficientNet(
        configuration, classes: max(classes.count, 2), channels: 3)
    }
    var notes: [String] = []
    let softmax = request.layer == "softmax"
    if softmax && request.checkpoint == nil {
      throw AdaptationError.badRequest(
        what: "shift --layer softmax",
        reason: "class probabilities need a trained head; add --checkpoint RUN_FOLDER")
    }
    var headClasses = classes
    var recorded: Preprocessing?
    // Intensity and header analyses need no network: without a feature analysis, none runs.
    let needsFeatures = request.options.analyses?.contains(where: \.needsFeatures) ?? true
    if !needsFeatures {
      request.transferability = false
      notes.append("No feature analysis was asked for: no network ran.")
    } else if let checkpoint = request.checkpoint {
      let trained = try Self.trainedModel(checkpoint)
      headClasses = trained.classes
      primary = "\(checkpoint) (\(trained.architecture) trained)"
      request.inputSize = trained.inputSize
      recorded = trained.preprocessing
      if request.window == nil { request.window = recorded?.window }
      request.transferability = false
      models.append((primary, "trained", trained.model))
      notes.append(
        "Features of the trained network in \(checkpoint) at its input size "
          + "\(trained.inputSize) px and its window; LogME skipped (it ranks pretrained backbones "
          + "before training).")
    } else {
      models.append((primary, "imagenet", try make(.pretrained(primary))))
    }
    let tapped = request.layer != nil && request.layer != "head_conv"
    let targetClasses = Set(request.target.indices.map { request.target.dataset.entries[$0].label })
    if request.transferability && targetClasses.count >= 2 {
      // LogME ranks the penultimate features a head would see: with a tapped layer, the same
      // network goes again untapped.
      if tapped { models.append(models[0]) }
      for w in PretrainedRegistry.all where w.name != primary {
        if PretrainedRegistry.cachedPath(for: w.name) != nil {
          models.append((w.name, "imagenet", try make(.pretrained(w.name))))
        } else {
          notes.append(
            "LogME for \(w.name) skipped: its weights are not cached "
              + "(medtransfer backbone fetch \(w.name)).")
        }
      }
      models.append((primary, "random", try make(.scratch(primary))))
    } else if request.transferability {
      notes.append("LogME skipped: the target sample has fewer than two classes.")
    }
    var extractor = ShiftSampleExtractor(
      inputSize: request.inputSize, classes: classes,
      histogramRange: ShiftSampleExtractor.histogramRange(
        paths: (request.source.indices.map { request.source.dataset.entries[$0].path }
          + request.target.indices.map { request.target.dataset.entries[$0].path })),
      window: request.window ?? .auto)
    // A trained run's inputs as it saw them (runs recorded before windows were selectable never
    // inverted MONOCHROME1).
    if let recorded { extractor.preprocessing.invertMonochrome1 = recorded.invertMonochrome1 }
    func report(_ side: String, _ done: Int, _ total: Int) {
      if done == total || done % 256 < extractor.batchSize {
        log("\(side): \(done)/\(total) images")
      }
    }
    // Power-of-two stride (≤ 32, dividing the batch) giving at most ~logMEImages rows.
    var logMEStride = 1
    while logMEStride < 32
      && (request.target.indices.count + logMEStride - 1) / logMEStride > request.logMEImages
    {
      logMEStride *= 2
    }
    let s = try extractor.extract(
      request.source, models: models.map(\.model),
      strides: models.indices.map { $0 == 0 ? 1 : nil }, layers: [request.layer],
      progress: { report("source", $0, $1) })
    let t = try extractor.extract(
      request.target, models: models.map(\.model),
      strides: models.indices.map { $0 == 0 ? 1 : logMEStride }, layers: [request.layer],
      progress: { report("target", $0, $1) })
    let featureSeconds = Date().timeIntervalSince(clock)
    log(String(format: "decode + features: %.1f s; analysing", featureSeconds))
    let analysisClock = Date()
    // Patients, when every image has one (a manifest column or the DICOM Patient ID hash).
    func patients(_ sample: ShiftSample) -> [String]? {
      let p = sample.indices.map { sample.dataset.entries[$0].patient }
      return p.allSatisfy { $0 != nil } ? p.map { $0! } : nil
    }
    func primaryFeatures(_ x: ExtractedShiftSample) throws -> FeatureMatrix {
      try x.features.first.map { $0! }
        ?? FeatureMatrix(rows: x.labels.count, columns: 0, values: [])
    }
    let report = try ShiftAnalysis.run(
      source: ShiftAnalysis.Domain(
        name: request.source.name, features: try primaryFeatures(s), intensities: s.intensities,
        histogram: s.histogram, headers: s.headers, labels: s.labels,
        clusters: patients(request.source)),
      target: ShiftAnalysis.Domain(
        name: request.target.name, features: try primaryFeatures(t), intensities: t.intensities,
        histogram: t.histogram, headers: t.headers, labels: t.labels,
        clusters: patients(request.target)),
      headerAttributes: ShiftSampleExtractor.headerAttributes, classCount: classes.count,
      options: request.options)
    var transferability: [ShiftDocument.Transferability] = []
    if models.count > 1 {
      let rows = Array(Swift.stride(from: 0, to: t.labels.count, by: logMEStride))
      notes.append(
        "LogME (You et al. 2021) of each backbone's pooled features on the target labels, on "
          + "the same \(rows.count) target images (every \(logMEStride == 1 ? "" : "\(logMEStride)th ")"
          + "image of the target sample); the random-init row is the no-transfer baseline. "
          + "analysis.targetLogME is the compared backbone on all target images.")
      let labels = rows.map { t.labels[$0] }
      for (k, m) in models.enumerated() {
        guard var f = t.features[k] else { continue }
        if k == 0 {
          if tapped { continue }
          f = f.selecting(rows: rows)
        }
        let score = try LogME.score(features: f, labels: labels, classCount: classes.count)
        transferability.append(
          ShiftDocument.Transferability(
            backbone: m.name, initialization: m.initialization, featureDimension: f.columns,
            images: f.rows, logME: score.score, perClass: score.perClass))
      }
    }
    let analysisSeconds = Date().timeIntervalSince(analysisClock)
    notes += report.notes
    func side(_ sample: ShiftSample, _ how: (dataset: String, domain: String?, split: String?))
      -> ShiftDocument.Side
    {
      var counts: [String: Int] = [:]
      for i in sample.indices { counts[sample.dataset.entries[i].label, default: 0] += 1 }
      return ShiftDocument.Side(
        dataset: how.dataset, name: sample.name, domain: how.domain, split: how.split,
        images: sample.indices.count, classCounts: counts)
    }
    let prep = extractor.preprocessing
    func used(_ name: String, _ windows: [Preprocessing.AppliedWindow]) -> String {
      "\(name): "
        + prep.summarize(windows).sorted { $0.key < $1.key }
        .map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
    }
    let window =
      "window \(prep.window), \(request.inputSize) px, 3 channels; "
      + used(request.source.name, s.windows) + "; " + used(request.target.name, t.windows)
    return ShiftDocument(
      schemaVersion: 1, source: side(request.source, request.sourceSide),
      target: side(request.target, request.targetSide), classes: classes, model: primary,
      layer: request.layer ?? "head_conv", inputSize: request.inputSize, preprocessing: window,
      analysis: report,
      predictions: softmax && needsFeatures
        ? ShiftDocument.Predictions(
          source: s.features[0]!, target: t.features[0]!, classes: headClasses)
        : nil,
      transferability: transferability,
      seconds: [
        "decode+features": featureSeconds, "analysis": analysisSeconds,
        "total": Date().timeIntervalSince(clock),
      ],
      notes: notes)
  }
}
