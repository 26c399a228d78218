import Adaptation
import Datasets
import Foundation
import Metrics

/// The domain-shift analysis of a study: pooled features of the ImageNet-pretrained backbone
/// (Backbones, through Adaptation's model factory) on up to `settings.maxImages` images per
/// domain (Datasets' preprocessing and cache), acquisition headers from the DICOM files, and
/// Metrics' `ShiftAnalysis` (MMD with permutation test, proxy A-distance, Fréchet, CORAL,
/// LogME, label shift, PCA embedding), mapped onto `ShiftAnalysisRecord`.
public struct FeatureShiftAnalyzer: ShiftAnalyzer {
  /// Backbone whose pretrained features are compared.
  public var backbone: String
  /// Square input size of the preprocessing.
  public var inputSize: Int
  /// The study's `training.options` (phantom size overrides).
  public var options: [String: String]
  /// Bad rows and undecodable images (the spec's `data.on_bad`; default `.skip`).
  public var onBad: OnBad
  /// The study's input window (`preprocessing.window`; nil: `auto`).
  public var window: String?

  /// Acquisition attributes compared between the domains (the shared extractor's list).
  public static let headerAttributes = ShiftSampleExtractor.headerAttributes

  public init(
    backbone: String, inputSize: Int, options: [String: String] = [:], onBad: OnBad = .skip,
    window: String? = nil
  ) {
    self.window = window
    self.backbone = backbone
    self.inputSize = inputSize
    self.options = options
    self.onBad = onBad
  }

  public func analyze(
    source: DatasetRef, target: DatasetRef, settings: ShiftSettings, context: StudyContext
  ) throws -> ShiftAnalysisRecord {
    let sourceManifest = try AdaptationExecutor.manifestURL(
      source, options: options, context: context)
    let targetManifest = try AdaptationExecutor.manifestURL(
      target, options: options, context: context)
    func sample(_ ref: DatasetRef, _ manifest: URL, classes: [String]?) throws -> ShiftSample {
      let name = try AdaptationExecutor.domain(of: ref, manifest: manifest)
      let dataset: Dataset
      do {
        dataset = try DatasetLoader.load(
          manifest.path, options: DatasetLoadOptions(onBad: onBad, labels: classes))
      } catch let error as DatasetsError {
        throw AdaptationExecutor.studyError(error)
      }
      let indices = dataset.entries.indices.filter {
        name == nil || dataset.entries[$0].domain == name
      }
      return ShiftSample(name: ref.label, dataset: dataset, indices: Array(indices))
        .limited(to: settings.maxImages)
    }
    let s = try sample(source, sourceManifest, classes: nil)
    let t = try sample(target, targetManifest, classes: s.dataset.labels)
    var options = ShiftAnalysis.Options(
      permutations: settings.permutations, bootstrapReplicates: settings.bootstrap,
      projection: settings.analyses.contains(.embedding), analyses: settings.analyses)
    options.covarianceBootstrapReplicates = min(
      options.covarianceBootstrapReplicates, settings.bootstrap)
    var request = FeatureShiftRun.Request(
      source: s, target: t, sourceSide: (sourceManifest.path, nil, nil),
      targetSide: (targetManifest.path, nil, nil), model: backbone, inputSize: inputSize,
      options: options, transferability: false)
    request.window = try window.map {
      try Preprocessing.parseWindow($0, input: "preprocessing.window")
    }
    let document: ShiftDocument
    let undecodable: [String: [BadRow]]
    do {
      (document, undecodable) = try FeatureShiftRun.run(request, onBad: onBad)
    } catch let error as DatasetsError {
      throw AdaptationExecutor.studyError(error)
    }
    // Only what the spec asked for was computed; `record` maps exactly that.
    let skippedRows = SkippedRowsLog(studyDirectory: context.studyDirectory)
    for (manifest, rows) in undecodable.sorted(by: { $0.key < $1.key }) {
      for line in try skippedRows.record(rows, dataset: manifest) {
        FileHandle.standardError.write(Data("skipped \(line)\n".utf8))
      }
    }
    return Self.record(document, settings: settings, backbone: backbone, source: s, target: t)
  }

  static func record(
    _ document: ShiftDocument, settings: ShiftSettings, backbone: String, source: ShiftSample,
    target: ShiftSample
  ) -> ShiftAnalysisRecord {
    let r = document.analysis
    var metrics: [ShiftMetric] = []
    if let mmd = r.mmd {
      metrics.append(
        ShiftMetric(
          name: "MMD² (RBF, median heuristic)", value: mmd.mmd2, lower: mmd.interval?.lower,
          upper: mmd.interval?.upper, pValue: mmd.permutations > 0 ? mmd.pValue : nil,
          note: "\(mmd.permutations) permutations"))
    }
    if let pad = r.proxyADistance {
      metrics.append(
        ShiftMetric(
          name: "proxy A-distance", value: pad.value,
          lower: pad.interval?.lower, upper: pad.interval?.upper,
          note: "\(pad.folds)-fold logistic domain classifier"))
    }
    if let frechet = r.frechetDistance {
      metrics.append(
        ShiftMetric(
          name: "Fréchet distance", value: frechet.value,
          lower: frechet.interval?.lower, upper: frechet.interval?.upper))
    }
    if let coral = r.coralDistance {
      metrics.append(
        ShiftMetric(
          name: "CORAL distance", value: coral.value,
          lower: coral.interval?.lower, upper: coral.interval?.upper))
    }
    if let logME = r.targetLogME {
      metrics.append(ShiftMetric(name: "LogME (target)", value: logME.score))
    }
    // Per-image intensity statistics: the KS test (its p-value, Holm-adjusted with the MMD test
    // as one family, is in the note) and the 1-D Wasserstein distance with its interval.
    for c in r.intensity {
      let holm = r.tests.first { $0.name == "KS intensity \(c.statistic)" }
      metrics.append(
        ShiftMetric(
          name: "intensity \(c.statistic): KS D", value: c.ks.statistic, pValue: c.ks.pValue,
          note: "median \(String(format: "%.1f", c.sourceMedian)) → "
            + "\(String(format: "%.1f", c.targetMedian)); \(c.ks.method)"
            + (holm.map { String(format: "; Holm-adjusted p %.3g", $0.adjustedPValue) } ?? "")))
      metrics.append(
        ShiftMetric(
          name: "intensity \(c.statistic): Wasserstein", value: c.wasserstein.value,
          lower: c.wasserstein.interval?.lower, upper: c.wasserstein.interval?.upper))
    }
    var headers: HeaderTable?
    if let h = r.headers {
      headers = Self.headerTable(h, source: r.sourceName, target: r.targetName)
    }
    var embedding: [EmbeddingPoint] = []
    if let e = r.embedding {
      for (i, p) in e.source.enumerated() {
        embedding.append(
          EmbeddingPoint(
            x: p.x, y: p.y, domain: r.sourceName,
            label: i < source.indices.count
              ? source.dataset.entries[source.indices[i]].label : nil))
      }
      for (i, p) in e.target.enumerated() {
        embedding.append(
          EmbeddingPoint(
            x: p.x, y: p.y, domain: r.targetName,
            label: i < target.indices.count
              ? target.dataset.entries[target.indices[i]].label : nil))
      }
    }
    var histograms: [IntensityDensity] = []
    if let h = r.histograms {
      histograms = [(r.sourceName, h.source), (r.targetName, h.target)].map { name, hist in
        let width = (hist.upper - hist.lower) / Double(hist.counts.count)
        return IntensityDensity(
          domain: name, edges: (0...hist.counts.count).map { hist.lower + Double($0) * width },
          density: hist.probabilities,
          unit: hist.lower < 0 ? "HU (modality LUT applied)" : "stored value")
      }
    }
    return ShiftAnalysisRecord(
      source: r.sourceName, target: r.targetName, metrics: metrics, histograms: histograms,
      headers: headers,
      embedding: embedding,
      embeddingMethod: embedding.isEmpty
        ? nil
        : "PCA of \(backbone) pooled features (ImageNet weights)",
      imagesPerDomain: [r.sourceName: r.sourceCount, r.targetName: r.targetCount])
  }
}

extension FeatureShiftAnalyzer {
  /// One row per attribute: per domain, its most frequent value (with the share when mixed).
  static func headerTable(_ h: HeaderComparison, source: String, target: String) -> HeaderTable {
    let rows = h.attributes.map { a -> HeaderRow in
      HeaderRow(
        attribute: a.attribute,
        values: a.valueCounts.map { counts in
          let total = counts.values.reduce(0, +)
          guard
            let top = counts.max(by: {
              $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key
            })
          else { return "—" }
          return top.value == total
            ? top.key
            : "\(top.key) (\(Int((Double(top.value) / Double(max(total, 1)) * 100).rounded()))%)"
        })
    }
    return HeaderTable(domains: h.domains.isEmpty ? [source, target] : h.domains, rows: rows)
  }
}
