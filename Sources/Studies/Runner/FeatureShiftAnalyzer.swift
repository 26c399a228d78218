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

  /// DICOM attributes compared between the domains.
  public static let headerAttributes = [
    "Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "PixelSpacing", "BitsStored",
    "PhotometricInterpretation", "RescaleIntercept",
  ]

  public init(backbone: String, inputSize: Int, options: [String: String] = [:]) {
    self.backbone = backbone
    self.inputSize = inputSize
    self.options = options
  }

  public func analyze(
    source: DatasetRef, target: DatasetRef, settings: ShiftSettings, context: StudyContext
  ) throws -> ShiftAnalysisRecord {
    let sourceManifest = try AdaptationExecutor.manifestURL(source, options: options, context: context)
    let targetManifest = try AdaptationExecutor.manifestURL(target, options: options, context: context)
    var configuration = TrainingConfiguration()
    configuration.initialization = .pretrained(backbone)
    let prep = DataPreparation.preprocessing(inputSize: inputSize, channels: 3)
    let cache = try TensorCache(preprocessing: prep)

    func domain(_ ref: DatasetRef, _ manifest: URL, classes: [String]?) throws
      -> (ShiftAnalysis.Domain, ImageSet)
    {
      let name = try AdaptationExecutor.domain(of: ref, manifest: manifest)
      let dataset = try DatasetLoader.load(
        manifest.path, options: DatasetLoadOptions(labels: classes))
      var indices = dataset.entries.indices.filter {
        name == nil || dataset.entries[$0].domain == name
      }
      if indices.count > settings.maxImages {
        // An even stride over the manifest order: deterministic and spread over patients.
        let step = Double(indices.count) / Double(settings.maxImages)
        indices = (0..<settings.maxImages).map { indices[Int(Double($0) * step)] }
      }
      let set = try DataPreparation.imageSet(dataset, indices, cache: cache)
      let headers: [[String: String]] = indices.map {
        (try? ScanLoader.attributes(
          path: dataset.entries[$0].path, names: Self.headerAttributes).values) ?? [:]
      }
      return (
        ShiftAnalysis.Domain(
          name: ref.label,
          features: try FeatureMatrix(rows: 0, columns: 0, values: []), headers: headers,
          labels: set.labels),
        set
      )
    }
    var (s, sourceSet): (ShiftAnalysis.Domain, ImageSet) = try domain(source, sourceManifest, classes: nil)
    var (t, targetSet): (ShiftAnalysis.Domain, ImageSet) = try domain(target, targetManifest, classes: sourceSet.classes)
    let model = try ModelFactories.efficientNet(
      configuration, classes: sourceSet.classes.count, channels: 3)
    let sf = model.extractFeatures(sourceSet)
    let tf = model.extractFeatures(targetSet)
    s.features = try FeatureMatrix(rows: sf.count, columns: sf.dimension, values: sf.features)
    t.features = try FeatureMatrix(rows: tf.count, columns: tf.dimension, values: tf.features)
    let report = try ShiftAnalysis.run(
      source: s, target: t, headerAttributes: Self.headerAttributes,
      classCount: sourceSet.classes.count,
      options: ShiftAnalysis.Options(
        permutations: settings.permutations, bootstrapReplicates: settings.bootstrap,
        projection: settings.analyses.contains(.embedding)))
    return Self.record(report, settings: settings, backbone: backbone,
                       sourceLabels: sourceSet, targetLabels: targetSet)
  }

  static func record(
    _ r: ShiftReport, settings: ShiftSettings, backbone: String, sourceLabels: ImageSet,
    targetLabels: ImageSet
  ) -> ShiftAnalysisRecord {
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
            label: i < sourceLabels.labels.count
              ? sourceLabels.classes[sourceLabels.labels[i]] : nil))
      }
      for (i, p) in e.target.enumerated() {
        embedding.append(
          EmbeddingPoint(
            x: p.x, y: p.y, domain: r.targetName,
            label: i < targetLabels.labels.count
              ? targetLabels.classes[targetLabels.labels[i]] : nil))
      }
    }
    return ShiftAnalysisRecord(
      source: r.sourceName, target: r.targetName, metrics: metrics, headers: headers,
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
