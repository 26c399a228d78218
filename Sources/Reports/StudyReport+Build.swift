import Foundation
import Metrics
import Studies

extension StudyReport {
  /// Name of the shift-table row with the source model's black-box shift detection.
  static let sourceModelMMDName = "MMD², source model's class probabilities"

  /// Computes the report from the store alone (no dataset, no network, no spec file).
  public static func build(from store: StudyStore) throws -> StudyReport {
    guard let stored = try store.loadStudy() else {
      throw ReportsError.emptyStudy(directory: store.directory.path)
    }
    let spec = stored.spec
    let metric = spec.report.metric
    let confidence = spec.report.confidence
    let runs = try store.runs()
    let finished = runs.filter { $0.status == .finished && $0.result != nil }
    let targets = spec.targets.map(\.label)
    let arms = spec.arms
    let budgets = spec.budgets

    func results(_ target: String, _ arm: String, _ budget: LabelBudget) -> SeedResults {
      var out: [Int: RunResult] = [:]
      for run in finished
      where run.config.target.label == target && run.config.arm.name == arm
        && run.config.budget == budget
      {
        out[run.config.seed] = run.result!
      }
      return SeedResults(bySeed: out)
    }
    func interval(_ values: [Double]) -> Interval? {
      ReportStatistics.meanInterval(values, confidence: confidence)
    }
    /// Largest budget at which `arm` has finished runs (where its details are shown).
    func armBudget(_ target: String, _ arm: String) -> LabelBudget? {
      budgets.reversed().first { b in
        finished.contains {
          $0.config.target.label == target && $0.config.arm.name == arm && $0.config.budget == b
        }
      }
    }
    /// Largest budget with at least one finished run (where per-arm details are shown).
    func detailBudget(_ target: String) -> LabelBudget? {
      budgets.reversed().first { b in
        finished.contains { $0.config.target.label == target && $0.config.budget == b }
      }
    }

    // MARK: Headline
    var headline: [HeadlineRow] = []
    var labelsToMatch: [LabelsToMatchRow] = []
    let scratchArm = arms.first { $0.isScratch }
    for target in targets {
      guard let scratch = scratchArm else { break }
      for arm in arms where arm.isTransfer {
        for budget in budgets {
          let t = results(target, arm.name, budget)
          let s = results(target, scratch.name, budget)
          let seeds = Set(t.keys).intersection(s.keys).sorted()
          let tv = seeds.compactMap { t[$0]!.target.value(metric) }
          let sv = seeds.compactMap { s[$0]!.target.value(metric) }
          guard !t.isEmpty else { continue }
          headline.append(
            HeadlineRow(
              target: target, arm: arm.name, budget: budget.description,
              transfer: interval(t.values.compactMap { $0.target.value(metric) }),
              scratch: interval(s.values.compactMap { $0.target.value(metric) }),
              difference: tv.count == sv.count && !tv.isEmpty
                ? ReportStatistics.pairedTest(tv, sv, confidence: confidence) : nil))
        }
      }
    }

    // MARK: Learning curves (x for `all` = labelled images per class actually used)
    var curves: [CurveSeries] = []
    for target in targets {
      for arm in arms {
        var points: [CurvePoint] = []
        for budget in budgets {
          let r = results(target, arm.name, budget).values
          guard let value = interval(r.compactMap { $0.target.value(metric) }) else { continue }
          let x: Double
          if let n = budget.count {
            x = Double(n)
          } else {
            let perClass = r.map {
              Double($0.trainImages) / Double(max(1, $0.target.classNames.count))
            }
            x = perClass.reduce(0, +) / Double(max(1, perClass.count))
          }
          points.append(CurvePoint(budget: budget.description, labelsPerClass: x, value: value))
        }
        if !points.isEmpty {
          curves.append(CurveSeries(target: target, arm: arm.name, points: points))
        }
      }
    }

    // Labels scratch needs to match each transfer arm.
    for target in targets {
      guard let scratch = scratchArm,
        let scratchCurve = curves.first(where: { $0.target == target && $0.arm == scratch.name }),
        !scratchCurve.points.isEmpty
      else { continue }
      for arm in arms where arm.isTransfer {
        guard let curve = curves.first(where: { $0.target == target && $0.arm == arm.name })
        else { continue }
        for point in curve.points where point.budget != "all" {
          let goal = point.value.mean
          // A number of labels is only worth printing where transfer beat scratch at this budget
          // (paired CI above 0 over ≥ 3 seeds); otherwise the "×" reads as a gain that is noise.
          let paired = headline.first {
            $0.target == target && $0.arm == arm.name && $0.budget == point.budget
          }?.difference
          let significant = paired.map { $0.n >= 3 && ($0.lower ?? -.infinity) > 0 } ?? false
          let (needed, note) =
            significant
            ? crossing(scratchCurve.points, goal: goal) : (nil, Self.notSignificant)
          labelsToMatch.append(
            LabelsToMatchRow(
              target: target, arm: arm.name, budget: point.budget, transferMean: goal,
              scratchLabelsNeeded: needed, note: note))
        }
      }
    }

    // MARK: Training curves and time to target (at the largest budget with results)
    var trainingCurves: [TrainingCurveSeries] = []
    var timeToTarget: [TimeToTargetRow] = []
    for target in targets {
      guard let budget = detailBudget(target) else { continue }
      let bestFinal = arms.compactMap { arm in
        interval(results(target, arm.name, budget).values.compactMap { $0.target.value(metric) })?
          .mean
      }.max()
      guard let goal = spec.report.targetValue ?? bestFinal.map({ 0.95 * $0 }) else { continue }
      for arm in arms {
        let r = results(target, arm.name, budget).values
        let withEpochs = r.filter { !$0.epochs.isEmpty }
        if !withEpochs.isEmpty {
          let maxEpoch = withEpochs.map { $0.epochs.map(\.epoch).max() ?? 0 }.max() ?? 0
          var points: [TrainingPoint] = []
          for e in 1...max(1, maxEpoch) {
            let records = withEpochs.compactMap { $0.epochs.first { $0.epoch == e } }
            guard !records.isEmpty else { continue }
            let vals = records.compactMap(\.valMetric).filter(\.isFinite)
            let losses = records.compactMap(\.trainLoss).filter(\.isFinite)
            points.append(
              TrainingPoint(
                epoch: e,
                wallSeconds: records.map(\.wallSeconds).reduce(0, +) / Double(records.count),
                valMetric: vals.isEmpty ? nil : vals.reduce(0, +) / Double(vals.count),
                trainLoss: losses.isEmpty ? nil : losses.reduce(0, +) / Double(losses.count),
                runs: records.count))
          }
          trainingCurves.append(
            TrainingCurveSeries(
              target: target, arm: arm.name, budget: budget.description, points: points))
        }
        guard !r.isEmpty else { continue }
        let times = withEpochs.compactMap { res in
          res.epochs.first { ($0.valMetric ?? -.infinity) >= goal }?.wallSeconds
        }.sorted()
        timeToTarget.append(
          TimeToTargetRow(
            target: target, arm: arm.name, budget: budget.description, targetValue: goal,
            medianSeconds: times.isEmpty
              ? nil
              : (times.count % 2 == 1
                ? times[times.count / 2]
                : (times[times.count / 2 - 1] + times[times.count / 2]) / 2),
            reached: times.count, runs: withEpochs.count))
      }
    }

    // MARK: Forgetting, AdaBN, weight distances, calibration, subgroups (largest budget)
    var forgetting: [ForgettingRow] = []
    var adaBN: [AdaBNRow] = []
    var distances: [WeightDistanceRow] = []
    var calibration: [CalibrationRow] = []
    var subgroups: [SubgroupRow] = []
    for target in targets {
      for budget in budgets {
        for arm in arms {
          let r = results(target, arm.name, budget).values
          let f = r.compactMap(\.forgetting)
          guard !f.isEmpty else { continue }
          let after = r.compactMap { $0.target.value(metric) }
          forgetting.append(
            ForgettingRow(
              target: target, arm: arm.name, budget: budget.description,
              // Only plain full fine-tuning ± L2-SP forms the α sweep (α = 0: plain full).
              l2spAlpha: arm.strategy == .full && !arm.adaBN && arm.dropout == nil
                && arm.coral == nil ? (arm.l2sp?.alpha ?? 0) : nil,
              sourceBefore: interval(f.compactMap(\.sourceBefore)),
              sourceAfter: interval(f.compactMap(\.sourceAfter)),
              forgetting: interval(f.compactMap(\.forgetting)),
              sourceBeforeOwnStatistics: interval(f.compactMap(\.sourceBeforeOwnStatistics)),
              sourceAfterOwnStatistics: interval(f.compactMap(\.sourceAfterOwnStatistics)),
              forgettingOwnStatistics: interval(f.compactMap(\.forgettingOwnStatistics)),
              targetBefore: interval(f.compactMap(\.targetBefore)),
              targetAfter: interval(after),
              targetGain: interval(
                r.compactMap { res in
                  guard let b = res.forgetting?.targetBefore, let a = res.target.value(metric)
                  else { return nil }
                  return a - b
                })))
        }
      }
      for arm in arms where arm.adaBN {
        guard let budget = armBudget(target, arm.name) else { continue }
        var plain = arm
        plain.adaBN = false
        plain.name = plain.canonicalName
        let a = results(target, arm.name, budget)
        if arm.strategy != .untrained, arms.contains(where: { $0.name == plain.name }) {
          let b = results(target, plain.name, budget)
          let seeds = Set(a.keys).intersection(b.keys).sorted()
          adaBN.append(
            AdaBNRow(
              target: target, budget: budget.description, arm: arm.name, baseline: plain.name,
              withAdaBN: interval(a.values.compactMap { $0.target.value(metric) }),
              without: interval(b.values.compactMap { $0.target.value(metric) }),
              difference: seeds.isEmpty
                ? nil
                : ReportStatistics.pairedTest(
                  seeds.compactMap { a[$0]!.target.value(metric) },
                  seeds.compactMap { b[$0]!.target.value(metric) }, confidence: confidence)))
        } else {
          let pairs = a.values.compactMap { res -> (Double, Double)? in
            guard let before = res.forgetting?.targetBefore, let after = res.target.value(metric)
            else { return nil }
            return (after, before)
          }
          adaBN.append(
            AdaBNRow(
              target: target, budget: budget.description, arm: arm.name,
              baseline: "source model, no adaptation",
              withAdaBN: interval(pairs.map(\.0)), without: interval(pairs.map(\.1)),
              difference: pairs.isEmpty
                ? nil
                : ReportStatistics.pairedTest(
                  pairs.map(\.0), pairs.map(\.1), confidence: confidence)))
        }
      }
      for arm in arms {
        guard let budget = armBudget(target, arm.name) else { continue }
        let r = results(target, arm.name, budget).values
        guard !r.isEmpty else { continue }
        var stages: [String] = []
        for res in r {
          for d in res.forgetting?.stageDistances ?? [] where !stages.contains(d.stage) {
            stages.append(d.stage)
          }
        }
        for stage in stages {
          let v = r.compactMap {
            $0.forgetting?.stageDistances.first { $0.stage == stage }?.distance
          }
          if let i = interval(v) {
            distances.append(
              WeightDistanceRow(
                target: target, arm: arm.name, budget: budget.description, stage: stage, distance: i
              ))
          }
        }
        calibration.append(
          CalibrationRow(
            target: target, arm: arm.name, budget: budget.description,
            ece: interval(r.compactMap(\.target.ece)), bins: pool(r.map(\.target.reliability))))
        var keys: [(String, String)] = []
        for res in r {
          for s in res.target.subgroups
          where !keys.contains(where: { $0 == (s.attribute, s.value) }) {
            keys.append((s.attribute, s.value))
          }
        }
        for (attribute, value) in keys {
          let s = r.compactMap {
            $0.target.subgroups.first { $0.attribute == attribute && $0.value == value }
          }
          if let i = interval(s.map(\.accuracy)) {
            subgroups.append(
              SubgroupRow(
                target: target, arm: arm.name, budget: budget.description, attribute: attribute,
                value: value, count: s.map(\.count).max() ?? 0, accuracy: i))
          }
        }
      }
    }

    let runRows = runs.map { run in
      RunRow(
        hash: run.hash, arm: run.config.arm.name, source: run.config.source.label,
        target: run.config.target.label, budget: run.config.budget.description,
        seed: run.config.seed, status: run.status.rawValue, error: run.error,
        attempts: run.attempts, result: run.result)
    }
    let compute = try store.totalComputeSeconds()

    // Each pair's shift table gains what the ImageNet source model saw (black-box shift
    // detection on its class probabilities) and its drop, per seed from the first transfer arm
    // that recorded them (the transfer arms of a seed share one source model).
    var shift = try store.shiftResults()
    for (i, record) in shift.enumerated() {
      var perSeed: [Int: (shift: PredictionShift, drop: Double?)] = [:]
      for arm in arms where arm.isTransfer {
        for run in finished
        where run.config.target.label == record.target && run.config.arm.name == arm.name
          && perSeed[run.config.seed] == nil
        {
          guard let f = run.result?.forgetting, let measured = f.sourceModelShift else { continue }
          let drop = f.sourceBefore.flatMap { b in f.targetBefore.map { b - $0 } }
          perSeed[run.config.seed] = (measured, drop)
        }
      }
      guard !perSeed.isEmpty else { continue }
      let seeds = perSeed.keys.sorted().map { perSeed[$0]! }
      func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
      let mmd = seeds.map(\.shift.mmd2)
      let many = seeds.count > 1
      shift[i].metrics.append(
        ShiftMetric(
          name: Self.sourceModelMMDName, value: mean(mmd),
          lower: many ? mmd.min() : nil, upper: many ? mmd.max() : nil,
          pValue: seeds.map(\.shift.pValue).max(),
          note: "black-box shift detection on the source test set vs the target test set, "
            + "before adaptation; mean over \(seeds.count) source model(s) (one per seed)"
            + (many ? ", min–max in the interval column, the largest p-value" : "")
            + "; \(seeds[0].shift.permutations) image-level permutations"))
      shift[i].metrics.append(
        ShiftMetric(
          name: "confidence drop, source model", value: mean(seeds.map(\.shift.confidenceDrop)),
          note: "mean max-probability on the source test set minus on the target test set: "
            + "an estimate of the source model's drop that needs no target labels"))
      let drops = seeds.compactMap(\.drop)
      if !drops.isEmpty {
        shift[i].metrics.append(
          ShiftMetric(
            name: "\(metric.title) drop, source model", value: mean(drops),
            note: "source test minus target test, before adaptation (needs target labels)"))
        shift[i].accuracyDrop = mean(drops)
      }
    }

    return StudyReport(
      generatedAt: ISO8601DateFormatter().string(from: Date()),
      study: StudyInfo(
        name: spec.name, description: spec.description, specFile: spec.file,
        specYAML: spec.yaml, createdAt: stored.createdAt, updatedAt: stored.updatedAt,
        source: spec.source.label, targets: targets, arms: arms.map(\.name),
        budgets: budgets.map(\.description), seeds: spec.seeds, backbone: spec.backbone,
        inputSize: spec.inputSize, window: inputWindow(spec, finished),
        windowsUsed: windowsUsed(finished), augmentation: augmentation(spec)),
      environment: try store.environment(),
      commands: try store.commands().map { CommandInfo(at: $0.at, command: $0.command) },
      metric: metric, confidence: confidence, runs: runRows, headline: headline,
      labelsToMatch: labelsToMatch, timeToTarget: timeToTarget, learningCurves: curves,
      trainingCurves: trainingCurves, forgetting: forgetting, adaBN: adaBN,
      weightDistances: distances, calibration: calibration, subgroups: subgroups,
      shift: shift,
      failedRuns: runRows.filter { $0.status == "failed" },
      staleRuns: try store.staleRunCount(), totalComputeSeconds: compute)
  }

  /// What augmentation the arms trained with: the spec's switch, and the frozen-backbone arms
  /// that train on features the backbone computed once per study (`FeatureStore`), where
  /// augmenting an image cannot change anything.
  static func augmentation(_ spec: StudySpec) -> String {
    guard spec.training.augment else { return "off (training.augment: false)" }
    let frozen = spec.arms.filter {
      switch $0.strategy {
      case .linearProbe, .featuresLogReg, .partial(stages: 0): return true
      default: return false
      }
    }.map(\.name)
    let note = "on (seeded flips, small affine, intensity) for the arms that train the backbone"
    guard !frozen.isEmpty else { return note }
    return note + "; off for " + frozen.joined(separator: ", ")
      + ": a frozen backbone's features are computed once per study (kept in features/) and "
      + "these arms train on them, so their images are never augmented"
  }

  /// The spec's window policy; for a store whose finished runs carry no window notes (recorded
  /// before windows were selectable) the lung window every image got then.
  static func inputWindow(_ spec: StudySpec, _ finished: [StoredRun]) -> String {
    if spec.window == nil, !finished.isEmpty, windowsUsed(finished).isEmpty {
      return "-600,1500"
    }
    return spec.window ?? "auto"
  }

  /// Per dataset label, the distinct windows its images got (from the runs' notes).
  static func windowsUsed(_ runs: [StoredRun]) -> [String: String] {
    var used: [String: Set<String>] = [:]
    for run in runs {
      let notes = run.result?.notes ?? [:]
      for (side, label) in [
        ("source", run.config.source.label), ("target", run.config.target.label),
      ] {
        for line in (notes["window.\(side)"] ?? "").components(separatedBy: "; ")
        where !line.isEmpty {
          used[label, default: []].insert(line)
        }
      }
    }
    return used.mapValues { $0.sorted().joined(separator: "; ") }
  }

  /// Where scratch's mean curve (log-linear between budgets) first reaches `goal`.
  static func crossing(_ points: [CurvePoint], goal: Double) -> (Double?, String) {
    let sorted = points.sorted { $0.labelsPerClass < $1.labelsPerClass }
    guard let first = sorted.first else { return (nil, "no scratch results") }
    if first.value.mean >= goal { return (first.labelsPerClass, "at or below the smallest budget") }
    for (a, b) in zip(sorted, sorted.dropFirst()) where b.value.mean >= goal {
      let fraction = (goal - a.value.mean) / (b.value.mean - a.value.mean)
      let x = exp(
        log(a.labelsPerClass) + fraction * (log(b.labelsPerClass) - log(a.labelsPerClass)))
      return (x, "reached")
    }
    return (nil, "not reached within the budgets run")
  }

  /// Count-weighted pooling of reliability bins with equal edges.
  static func pool(_ sets: [[ReliabilityBin]]) -> [ReliabilityBin] {
    var byEdge: [String: ReliabilityBin] = [:]
    var order: [String] = []
    for bins in sets {
      for bin in bins where bin.count > 0 {
        let key = String(format: "%.6f-%.6f", bin.lower, bin.upper)
        if var existing = byEdge[key] {
          let n = Double(existing.count + bin.count)
          existing.meanConfidence =
            (existing.meanConfidence * Double(existing.count)
              + bin.meanConfidence * Double(bin.count)) / n
          existing.accuracy =
            (existing.accuracy * Double(existing.count)
              + bin.accuracy * Double(bin.count)) / n
          existing.count += bin.count
          byEdge[key] = existing
        } else {
          byEdge[key] = bin
          order.append(key)
        }
      }
    }
    return order.map { byEdge[$0]! }.sorted { $0.lower < $1.lower }
  }
}

/// Errors of the Reports module.
public enum ReportsError: Error, CustomStringConvertible, Sendable {
  /// The store has no study row.
  case emptyStudy(directory: String)
  /// An output file could not be written.
  case write(path: String, cause: String)

  public var description: String {
    switch self {
    case .emptyStudy(let directory):
      return
        "\(directory): the study database holds no study yet; run `medtransfer study run SPEC`."
    case .write(let path, let cause):
      return "\(path): cannot write the report (\(cause)); check the folder's permissions."
    }
  }
}

/// One arm's results at one target and budget, by seed. `values` and `keys` are in seed order,
/// so a mean over seeds adds its terms in the same order in every process (a Dictionary's
/// order differs from process to process, which moved the last bit of report means).
struct SeedResults {
  var bySeed: [Int: RunResult]
  var keys: [Int] { bySeed.keys.sorted() }
  var values: [RunResult] { keys.map { bySeed[$0]! } }
  var isEmpty: Bool { bySeed.isEmpty }
  subscript(seed: Int) -> RunResult? { bySeed[seed] }
}
