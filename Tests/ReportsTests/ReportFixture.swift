import Foundation
import Metrics
import TestSupport

@testable import Studies

/// A study database filled through the public store API with designed results, so that every
/// report section has content and the expected numbers are known in closed form. (No trainer is
/// involved: this is input data for the report renderer, not a stand-in for training.)
enum ReportFixture {
  static let yaml = """
    name: fixture
    description: Designed results exercising every report section.
    data:
      source: {manifest: sites.csv, domain: A}
      targets: [{manifest: sites.csv, domain: B}]
    arms:
      - baseline:majority-class
      - scratch
      - linear-probe
      - full
      - full+l2sp(0.1)
      - {arm: full+l2sp(0.01), budgets: [100]}
      - {arm: full+l2sp(1), budgets: [100]}
      - {arm: adabn, budgets: [100]}
      - {arm: adabn+full+l2sp(0.1), budgets: [100]}
    budgets: [10, 25, 100, all]
    seeds: 3
    training: {epochs: 12}
    """

  /// Target balanced accuracy of an arm at n labels/class for a seed (deterministic).
  static func value(_ arm: String, _ n: Double, seed: Int) -> Double {
    let noise = 0.015 * sin(Double(seed * 7 + Int(n) + arm.count * 3) * 1.3)
    switch arm {
    case "baseline:majority-class": return 0.25
    case "scratch": return 0.30 + 0.55 * (1 - exp(-n / 180)) + noise
    case "linear-probe": return 0.55 + 0.15 * (1 - exp(-n / 40)) + noise
    case "adabn": return 0.52 + noise
    default:
      let alpha =
        arm.contains("l2sp(0.01)")
        ? 0.01 : arm.contains("l2sp(1)") ? 1 : arm.contains("l2sp") ? 0.1 : 0
      return 0.58 + 0.30 * (1 - exp(-n / 60)) - 0.02 * alpha + (arm.hasPrefix("adabn") ? 0.02 : 0)
        + noise
    }
  }

  static func result(_ config: RunConfig) -> RunResult {
    let n = Double(config.budget.count ?? 400)
    let arm = config.arm.name
    let v = value(arm, n, seed: config.seed)
    let trained = config.arm.isBaseline == false && config.arm.strategy != .untrained
    let epochs: [EpochRecord] =
      trained
      ? (1...12).map { e in
        let progress = 1 - exp(-Double(e) / (arm == "scratch" ? 6 : 2))
        return EpochRecord(
          epoch: e,
          wallSeconds: Double(e) * (arm == "linear-probe" ? 0.8 : 3.1) + Double(config.seed),
          trainLoss: 1.4 * (1 - progress) + 0.1, valMetric: 0.25 + (v - 0.25) * progress)
      } : []
    let alpha = config.arm.l2sp?.alpha ?? 0
    let forgetting: ForgettingRecord? =
      config.arm.isTransfer
      ? ForgettingRecord(
        sourceBefore: 0.86,
        sourceAfter: 0.86 - (config.arm.strategy == .full ? 0.12 / (1 + 10 * alpha) : 0.01),
        targetBefore: 0.48 + 0.002 * Double(config.seed),
        stageDrift: config.arm.strategy == .full
          ? (1...7).map {
            StageDrift(
              stage: $0, name: "stage\($0)", distance: Double($0) * 0.4 / (1 + 10 * alpha),
              initialNorm: 10)
          } : [],
        // A quarter of the forgetting is in the weights; the rest is BatchNorm statistics.
        sourceBeforeOwnStatistics: 0.88,
        sourceAfterOwnStatistics: 0.88
          - (config.arm.strategy == .full ? 0.03 / (1 + 10 * alpha) : 0.0025))
      : nil
    let bins = (0..<10).map { i -> ReliabilityBin in
      let c = (Double(i) + 0.5) / 10
      return ReliabilityBin(
        lower: Double(i) / 10, upper: Double(i + 1) / 10, count: 10 + i,
        meanConfidence: c, accuracy: max(0, min(1, c - (arm == "scratch" ? 0.12 : 0.04) * c)))
    }
    // The fixture's numbers are written as the summaries the report reads and turned into
    // Adaptation's records the way the store upgrades older results.
    return RunResult(
      target: LegacyRunResult.report(
        EvaluationMetrics(
          count: 400, accuracy: v + 0.03, balancedAccuracy: v, macroF1: v - 0.02,
          auroc: Estimate(
            value: min(0.99, v + 0.08),
            interval: ConfidenceInterval(
              lower: v + 0.04, upper: min(1, v + 0.12), level: 0.95, method: "DeLong")),
          ece: arm == "scratch" ? 0.09 : 0.035, reliability: bins,
          subgroups: [
            SubgroupMetric(attribute: "sex", value: "F", count: 190, accuracy: v + 0.01),
            SubgroupMetric(attribute: "sex", value: "M", count: 210, accuracy: v - 0.01),
          ],
          classNames: ["normal", "solid-nodule", "spiculated-nodule", "ground-glass"])),
      source: LegacyRunResult.report(
        EvaluationMetrics(count: 400, accuracy: 0.86, balancedAccuracy: 0.85, macroF1: 0.84)),
      epochs: epochs.map { LegacyRunResult.log($0, monitor: config.training.monitor) },
      monitor: config.training.monitor, forgetting: forgetting,
      timings: [PhaseTiming(phase: "target-training", seconds: epochs.last?.wallSeconds ?? 0.1)],
      wallSeconds: (epochs.last?.wallSeconds ?? 0.1) + 2, imagesPerSecond: trained ? 180 : nil,
      trainImages: Int(n) * 4,
      notes: [
        "window.source": "file window C -600 W 1500",
        "window.target": "file window C -550 W 1600; per-image percentiles p0.5–p99.5",
      ])
  }

  static let shift = ShiftAnalysisRecord(
    source: "A", target: "B",
    metrics: [
      ShiftMetric(
        name: "MMD² (RBF, median heuristic)", value: 0.0412, lower: 0.031, upper: 0.052,
        pValue: 0.001, note: "1000 permutations"),
      ShiftMetric(
        name: "proxy A-distance", value: 1.42, lower: 1.31, upper: 1.55, note: "linear SVM, 5-fold"),
      ShiftMetric(name: "intensity mean: KS D", value: 0.23, pValue: 0.0004),
    ],
    histograms: ["A", "B"].map { d in
      let edges = stride(from: -1000.0, through: 400, by: 50).map { $0 }
      let centre = d == "A" ? -300.0 : -220
      let raw = zip(edges, edges.dropFirst()).map {
        exp(-pow(($0 + $1) / 2 - centre, 2) / 60000) + 0.4
          * exp(-pow(($0 + $1) / 2 + 850, 2) / 8000)
      }
      let total = raw.reduce(0, +)
      return IntensityDensity(
        domain: d, edges: edges, density: raw.map { $0 / total }, unit: "HU")
    },
    headers: HeaderTable(
      domains: ["A", "B"],
      rows: [
        HeaderRow(attribute: "Manufacturer", values: ["Phantom Medical", "Acme Imaging"]),
        HeaderRow(attribute: "ConvolutionKernel", values: ["B30f (smooth)", "B70f (sharp)"]),
        HeaderRow(attribute: "PixelSpacing (mm)", values: ["0.70", "0.82"]),
      ]),
    embedding: (0..<120).map { i in
      let d = i % 2 == 0 ? "A" : "B"
      let t = Double(i) * 0.37
      return EmbeddingPoint(
        x: cos(t) * 2 + (d == "A" ? -1.2 : 1.2), y: sin(t * 1.7) * 1.5, domain: d)
    },
    embeddingMethod: "PCA of pooled backbone features (fixture)", accuracyDrop: 0.21,
    imagesPerDomain: ["A": 60, "B": 60])

  /// Creates the fixture database in `directory`; one run is recorded as failed. Without
  /// `windowNotes` the results look like runs recorded before per-dataset windows.
  @discardableResult
  static func make(in directory: URL, windowNotes: Bool = true) throws -> StudyStore {
    let spec = try StudySpec.parse(yaml: yaml, file: "studies/fixture.yaml", defaultName: "fixture")
    let store = try StudyStore(directory: directory)
    try store.saveStudy(spec)
    try store.recordCommand("medtransfer study run studies/fixture.yaml")
    try store.saveEnvironment(["medtransfer.version": "0.1.0", "machine.cores": "2"])
    let configs = spec.expand()
    try store.register(configs)
    for config in configs {
      try store.markRunning(hash: config.hash)
      if config.arm.name == "full" && config.budget == .perClass(25) && config.seed == 2 {
        try store.recordFailure(
          hash: config.hash, error: "train loss is nan at epoch 4", wallSeconds: 9)
      } else {
        var r = result(config)
        if !windowNotes { r.notes = [:] }
        try store.recordResult(hash: config.hash, result: r)
      }
    }
    try store.saveShift(key: "fixture-A-B", shift)
    try store.setCurrentShiftKeys(["fixture-A-B"])
    return store
  }
}
