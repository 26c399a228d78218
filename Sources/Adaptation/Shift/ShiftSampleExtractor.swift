import Backbones
import Datasets
import Dispatch
import Foundation
import Metrics
import Neural

/// One side of a shift comparison: some images of a loaded dataset, under a display name.
public struct ShiftSample: Sendable {
  /// Display name ("site-a", "site-a (test)").
  public var name: String
  /// The dataset the images come from.
  public var dataset: Dataset
  /// Entry indices of the images, in the order they enter the analysis.
  public var indices: [Int]

  /// A sample of `dataset`.
  public init(name: String, dataset: Dataset, indices: [Int]) {
    self.name = name
    self.dataset = dataset
    self.indices = indices
  }

  /// At most `maxImages` of `indices`, taken at an even stride over their order: deterministic
  /// and spread over patients (manifests list a patient's slices together).
  public func limited(to maxImages: Int?) -> ShiftSample {
    guard let maxImages, maxImages > 0, indices.count > maxImages else { return self }
    let step = Double(indices.count) / Double(maxImages)
    var copy = self
    copy.indices = (0..<maxImages).map { indices[Int(Double($0) * step)] }
    return copy
  }
}

/// What one pass over a sample's files produced.
public struct ExtractedShiftSample {
  /// Pooled features of each model, in the order the models were given: every image, or the
  /// images at positions 0, s, 2s, … for a model run with stride s; nil where a model skipped
  /// this sample.
  public var features: [FeatureMatrix?]
  /// Per-image intensity summaries after the modality LUT (`IntensityShift.summarize`).
  public var intensities: [[String: Double]]
  /// Pooled histogram of the modality values.
  public var histogram: IntensityHistogram
  /// Acquisition attributes per image (from the decoded file; see
  /// `ShiftSampleExtractor.headerAttributes`).
  public var headers: [[String: String]]
  /// Class index per image in the extractor's `classes`.
  public var labels: [Int]
  /// The window each image got (`Preprocessing.AppliedWindow`).
  public var windows: [Preprocessing.AppliedWindow] = []
}

/// Decodes each image of a shift sample once and derives everything the shift analysis needs
/// from that one decode: the preprocessed network input (Datasets' `Preprocessing`, as in
/// training), pooled backbone features of one or more models, per-image intensity summaries
/// and the pooled histogram of the modality values, and the acquisition headers.
///
/// Files are decoded two at a time on the shared worker pool, a batch of images at once, and
/// each batch goes through every model before the next is decoded, so memory stays at one
/// batch of images however large the sample.
public struct ShiftSampleExtractor {
  /// Acquisition attributes tabulated per domain (the list plus storage details).
  public static let headerAttributes = [
    "Manufacturer", "ManufacturerModelName", "ConvolutionKernel", "KVP", "PixelSpacing",
    "SliceThickness", "BitsStored", "PhotometricInterpretation", "ModalityLUT", "TransferSyntax",
  ]

  /// What `extract(_:models:strides:layers:progress:)` can take from a model: a layer's pooled
  /// output (`EfficientNetLite.featureLayers`) or `softmax`, its class probabilities.
  public static let comparableLayers = EfficientNetLite.featureLayers + ["softmax"]

  /// The network input preprocessing.
  public var preprocessing: Preprocessing
  /// Class names; labels are indices into this list.
  public var classes: [String]
  /// Range of the pooled histogram (modality units: HU for CT, 0…255 for PNG).
  public var histogramRange: ClosedRange<Double>
  /// Bins of the pooled histogram.
  public var histogramBins: Int
  /// Images decoded and pushed through the models at once.
  public var batchSize: Int

  /// An extractor for `classes` with the training preprocessing at `inputSize` and `window`.
  public init(
    inputSize: Int, classes: [String], histogramRange: ClosedRange<Double> = -1024...3072,
    histogramBins: Int = 256, batchSize: Int = 32, window: Preprocessing.Window = .auto
  ) {
    preprocessing = DataPreparation.preprocessing(
      inputSize: inputSize, channels: 3, window: window)
    self.classes = classes
    self.histogramRange = histogramRange
    self.histogramBins = histogramBins
    self.batchSize = batchSize
  }

  /// The default histogram range for a set of files: 0…256 when every file is a PNG or JPEG
  /// (by content), else −1024…3072 (HU; values outside are counted as under/overflow).
  public static func histogramRange(paths: [String]) -> ClosedRange<Double> {
    paths.allSatisfy(ScanLoader.isRasterImage) ? 0...256 : -1024...3072
  }

  /// Runs the models in `models` over `sample`. `strides[k]` chooses model k's rows: 1 (or a
  /// missing entry) every image, s > 1 the images at positions 0, s, 2s, … of the sample, nil
  /// none (its features are then nil). `layers[k]` taps model k's EfficientNet at that layer
  /// (`EfficientNetLite.featureLayers`, globally pooled) instead of its penultimate features,
  /// or, for `softmax`, takes the model's class probabilities (its head's output: meaningful
  /// for a trained model only); nil or a missing entry keeps the penultimate features.
  /// `progress` receives (done, total) after each batch.
  ///
  /// Each model always sees batches of one shape (the last batch is padded with copies of its
  /// first image and the padding rows dropped), so the engine keeps one set of buffers per model.
  public func extract(
    _ sample: ShiftSample, models: [TransferModel], strides: [Int?] = [], layers: [String?] = [],
    progress: (Int, Int) -> Void = { _, _ in }
  ) throws -> ExtractedShiftSample {
    let n = sample.indices.count
    let p = preprocessing
    let strides = models.indices.map { k -> Int? in
      k < strides.count ? strides[k].map { max($0, 1) } : 1
    }
    // A small sample gets a batch just large enough (a multiple of the largest stride).
    let largest = strides.compactMap { $0 }.max() ?? 1
    let batchSize = min(self.batchSize, (n + largest - 1) / largest * largest)
    // A stride must divide the batch so that every batch holds the same number of rows.
    precondition(
      strides.allSatisfy { $0 == nil || batchSize % $0! == 0 },
      "ShiftSampleExtractor: every stride must divide the batch size \(batchSize).")
    let classIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    var labels: [Int] = []
    for i in sample.indices {
      let label = sample.dataset.entries[i].label
      guard let k = classIndex[label] else {
        throw AdaptationError.badInput(
          path: sample.dataset.source, row: sample.dataset.entries[i].row,
          reason: "label '\(label)' is not one of the analysed classes \(classes)")
      }
      labels.append(k)
    }
    let softmax = models.indices.map { k in k < layers.count && layers[k] == "softmax" }
    let taps = try models.indices.map { k -> (network: EfficientNetLite, layer: String)? in
      guard k < layers.count, let layer = layers[k], !softmax[k] else { return nil }
      guard let network = (models[k].backbone as? EfficientNetBackbone)?.network else {
        throw AdaptationError.badInput(
          path: sample.dataset.source, row: nil,
          reason:
            "layer '\(layer)' needs an EfficientNet-Lite backbone, this model has \(models[k].backbone.kind)"
        )
      }
      guard network.featureWidth(at: layer) != nil else {
        throw AdaptationError.badInput(
          path: sample.dataset.source, row: nil,
          reason: "\(network.configuration.name) has no layer '\(layer)'; choose one of "
            + Self.comparableLayers.joined(separator: ", "))
      }
      return (network, layer)
    }
    let widths = models.indices.map { k in
      softmax[k]
        ? models[k].head.classes
        : taps[k].map { $0.network.featureWidth(at: $0.layer)! } ?? models[k].featureDimension
    }
    var features = strides.map { $0 == nil ? nil : [Float]() }
    var intensities: [[String: Double]] = []
    var headers: [[String: String]] = []
    var windows: [Preprocessing.AppliedWindow] = []
    var histogram = IntensityHistogram(
      lower: histogramRange.lowerBound, upper: histogramRange.upperBound, bins: histogramBins)
    var start = 0
    while start < n {
      let end = min(start + batchSize, n)
      let paths = sample.indices[start..<end].map { sample.dataset.entries[$0].path }
      let decoded = try Self.decode(paths, preprocessing: p)
      for image in decoded {
        intensities.append(image.summary)
        headers.append(image.headers)
        windows.append(image.window)
        histogram.add(image.modalityValues)
      }
      for (k, model) in models.enumerated() {
        guard let stride = strides[k] else { continue }
        // Rows of this batch at sample positions divisible by the stride (start is a multiple
        // of the batch size, hence of the stride).
        let rows = Swift.stride(from: 0, to: decoded.count, by: stride).map { $0 }
        let batch = Tensor(shape: [batchSize / stride, p.size, p.size, p.channels])
        for slot in 0..<(batchSize / stride) {
          let image = decoded[rows[slot < rows.count ? slot : 0]]
          image.input.withUnsafeBufferPointer {
            (batch.data + slot * p.valuesPerImage).update(
              from: $0.baseAddress!, count: p.valuesPerImage)
          }
        }
        let out =
          softmax[k]
          ? model.probabilities(batch)
          : (taps[k].map { $0.network.pooledFeatures(batch, at: $0.layer) }
            ?? model.backbone.forward(batch, mode: .inference)).array
        features[k]! += out.prefix(rows.count * widths[k])
      }
      start = end
      progress(end, n)
    }
    let matrices = try models.indices.map { k -> FeatureMatrix? in
      guard let values = features[k] else { return nil }
      let d = widths[k]
      return try FeatureMatrix(rows: values.count / d, columns: d, values: values)
    }
    return ExtractedShiftSample(
      features: matrices, intensities: intensities, histogram: histogram, headers: headers,
      labels: labels, windows: windows)
  }

  // MARK: - Decoding

  struct DecodedImage: Sendable {
    var input: [Float]
    var window: Preprocessing.AppliedWindow
    var modalityValues: [Float]
    var summary: [String: Double]
    var headers: [String: String]
  }

  /// Decodes `paths` on two workers; the first failure (in path order) is thrown.
  static func decode(_ paths: [String], preprocessing: Preprocessing) throws -> [DecodedImage] {
    /// Result slots plus the next-path cursor, guarded by `lock`.
    final class Work: @unchecked Sendable {
      let lock = NSLock()
      var next = 0
      var results: [Result<DecodedImage, Error>?]
      init(_ n: Int) { results = Array(repeating: nil, count: n) }
    }
    let work = Work(paths.count)
    DispatchQueue.concurrentPerform(iterations: min(2, max(paths.count, 1))) { _ in
      while true {
        work.lock.lock()
        let i = work.next
        work.next += 1
        work.lock.unlock()
        guard i < paths.count else { return }
        let result = Result { try decodeOne(paths[i], preprocessing: preprocessing) }
        work.lock.lock()
        work.results[i] = result
        work.lock.unlock()
      }
    }
    return try work.results.map { try $0!.get() }
  }

  static func decodeOne(_ path: String, preprocessing: Preprocessing) throws -> DecodedImage {
    let scan = try ScanLoader.load(path: path)
    var headers: [String: String] = [:]
    for name in headerAttributes {
      if let value = scan.headers[name], !value.isEmpty { headers[name] = value }
    }
    if let s = scan.pixelSpacing {
      headers["PixelSpacing"] = String(format: "%.4g\\%.4g", s.row, s.column)
    }
    if !scan.transferSyntaxUID.isEmpty { headers["TransferSyntax"] = scan.transferSyntaxUID }
    if ScanLoader.isRasterImage(path) { headers["PhotometricInterpretation"] = scan.photometric }
    var input = [Float](repeating: 0, count: preprocessing.valuesPerImage)
    let window = input.withUnsafeMutableBufferPointer {
      preprocessing.apply(scan, into: $0.baseAddress!)
    }
    return DecodedImage(
      input: input, window: window, modalityValues: scan.values,
      summary: IntensityShift.summarize(scan.values), headers: headers)
  }
}
