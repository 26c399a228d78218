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
  /// The study's input window (`preprocessing.window`; nil: `auto`).
  public var window: String?

  /// Acquisition attributes compared between the domains (the shared extractor's list).
  public static let headerAttributes = ShiftSampleExtractor.headerAttributes

  public init(
    backbone: String, inputSize: Int, options: [String: String] = [:], window: String? = nil
  ) {
    self.window = window
    self.backbone = backbone
    self.inputSize = inputSize
    self.options = options
  }

  public func analyze(
    source: DatasetRef, target: DatasetRef, settings: ShiftSettings, context: StudyContext
  ) throws -> ShiftAnalysisRecord {
    let sourceManifest = try AdaptationExecutor.manifestURL(source, options: options, context: context)
    let targetManifest = try AdaptationExecutor.manifestURL(target, options: options, context: context)
    func sample(_ ref: DatasetRef, _ manifest: URL, classes: [String]?) throws -> ShiftSample {
      let name = try AdaptationExecutor.domain(of: ref, manifest: manifest)
      let dataset = try DatasetLoader.load(
        manifest.path, options: DatasetLoadOptions(labels: classes))
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
      projection: settings.analyses.contains(.embedding))
    options.covarianceBootstrapReplicates = min(
      options.covarianceBootstrapReplicates, settings.bootstrap)
    var request = FeatureShiftRun.Request(
      source: s, target: t, sourceSide: (sourceManifest.path, nil, nil),
      targetSide: (targetManifest.path, nil, nil), model: backbone, inputSize: inputSize,
      options: options, transferability: false)
    request.window = try window.map {
      try Preprocessing.parseWindow($0, input: "preprocessing.window")
    }
    let document = try FeatureShiftRun.run(request)
    return Self.record(document, settings: settings, backbone: backbone, source: s, target: t)
  }

  static func record(
    _ document: ShiftDocument, settings: ShiftSettings, backbone: String, source: ShiftSample,
    target: ShiftSample
  ) -> ShiftAnalysisRecord {
    let r = document.analysis
    let want = Set(settings.analyses)
    var metrics: [ShiftMetric] = []
    if want.contains(.mmd) {
      metrics.append(
        ShiftMetric(
          name: "MMD² (RBF, median heuristic)", value: r.mmd.mmd2, lower: r.mmd.interval?.lower,
          upper: r.mmd.interval?.upper, pValue: r.mmd.permutations > 0 ? r.mmd.pValue : nil,
          note: "\(r.mmd.permutations) permutations"))
    }
    if want.contains(.proxyADistance) {
      metrics.append(
        ShiftMetric(
          name: "proxy A-distance", value: r.proxyADistance.value,
          lower: r.proxyADistance.interval?.lower, upper: r.proxyADistance.interval?.upper,
          note: "\(r.proxyADistance.folds)-fold logistic domain classifier"))
    }
    if want.contains(.frechet) {
      metrics.append(
        ShiftMetric(
          name: "Fréchet distance", value: r.frechetDistance.value,
          lower: r.frechetDistance.interval?.lower, upper: r.frechetDistance.interval?.upper))
    }
    if want.contains(.coral) {
      metrics.append(
        ShiftMetric(
          name: "CORAL distance", value: r.coralDistance.value,
          lower: r.coralDistance.interval?.lower, upper: r.coralDistance.interval?.upper))
    }
    if want.contains(.logme), let logME = r.targetLogME {
      metrics.append(ShiftMetric(name: "LogME (target)", value: logME.score))
    }
    var headers: HeaderTable?
    if want.contains(.headers), let h = r.headers {
      headers = Self.headerTable(h, source: r.sourceName, target: r.targetName)
    }
    var embedding: [EmbeddingPoint] = []
    if want.contains(.embedding), let e = r.embedding {
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
    var histograms: [IntensityHistogram] = []
    if let h = r.histograms {
      histograms = [(r.sourceName, h.source), (r.targetName, h.target)].map { name, hist in
        let width = (hist.upper - hist.lower) / Double(hist.counts.count)
        return IntensityHistogram(
          domain: name, edges: (0...hist.counts.count).map { hist.lower + Double($0) * width },
          density: hist.probabilities,
          unit: hist.lower < 0 ? "HU (modality LUT applied)" : "stored value")
      }
    }
    return ShiftAnalysisRecord(
      source: r.sourceName, target: r.targetName, metrics: metrics, histograms: histograms,
      headers: headers,
      embedding: embedding,
      embeddingMethod: embedding.isEmpty ? nil
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
          guard let top = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })
          else { return "—" }
          return top.value == total ? top.key
            : "\(top.key) (\(Int((Double(top.value) / Double(max(total, 1)) * 100).rounded()))%)"
        })
    }
    return HeaderTable(domains: h.domains.isEmpty ? [source, target] : h.domains, rows: rows)
  }
}
