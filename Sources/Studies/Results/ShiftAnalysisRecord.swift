import Foundation

/// The domain-shift analysis of one source → target pair, filled from the Metrics module.
public struct ShiftAnalysisRecord: Codable, Sendable, Equatable {
  /// Source domain label (e.g. "A").
  public var source: String
  /// Target domain label (e.g. "B").
  public var target: String
  /// Shift metrics (MMD, proxy A-distance, Fréchet, CORAL, KS, Wasserstein, LogME, …).
  public var metrics: [ShiftMetric]
  /// Intensity histograms, one per domain, on shared bin edges.
  public var histograms: [IntensityDensity]
  /// Acquisition headers per domain (manufacturer, model, kernel, spacing, …).
  public var headers: HeaderTable?
  /// 2-D embedding of backbone features (source and target points).
  public var embedding: [EmbeddingPoint]
  /// How the embedding was made (e.g. "PCA of EfficientNet-Lite0 pooled features").
  public var embeddingMethod: String?
  /// Accuracy lost by a source-trained model on this target (source − target), if measured.
  public var accuracyDrop: Double?
  /// Images per domain that entered the analyses.
  public var imagesPerDomain: [String: Int]

  public init(
    source: String, target: String, metrics: [ShiftMetric] = [],
    histograms: [IntensityDensity] = [], headers: HeaderTable? = nil,
    embedding: [EmbeddingPoint] = [], embeddingMethod: String? = nil,
    accuracyDrop: Double? = nil, imagesPerDomain: [String: Int] = [:]
  ) {
    self.source = source
    self.target = target
    self.metrics = metrics
    self.histograms = histograms
    self.headers = headers
    self.embedding = embedding
    self.embeddingMethod = embeddingMethod
    self.accuracyDrop = accuracyDrop
    self.imagesPerDomain = imagesPerDomain
  }
}

/// One shift statistic with its interval and test.
public struct ShiftMetric: Codable, Sendable, Equatable {
  /// e.g. "MMD² (RBF, median heuristic)".
  public var name: String
  public var value: Double
  public var lower: Double?
  public var upper: Double?
  /// Permutation (or test) p-value, where the statistic has a test.
  public var pValue: Double?
  /// How it was computed (e.g. "1000 permutations", "on pooled features").
  public var note: String?
  public init(
    name: String, value: Double, lower: Double? = nil, upper: Double? = nil,
    pValue: Double? = nil, note: String? = nil
  ) {
    self.name = name
    self.value = value
    self.lower = lower
    self.upper = upper
    self.pValue = pValue
    self.note = note
  }
}

/// The intensity density of one domain as the report plots it (normalised from Metrics'
/// `IntensityHistogram` counts).
public struct IntensityDensity: Codable, Sendable, Equatable {
  public var domain: String
  /// Bin edges (count + 1 values), e.g. in HU after the modality LUT.
  public var edges: [Double]
  /// Density per bin (sums to 1 over bins).
  public var density: [Double]
  /// Unit of the edges (e.g. "HU").
  public var unit: String
  public init(domain: String, edges: [Double], density: [Double], unit: String) {
    self.domain = domain
    self.edges = edges
    self.density = density
    self.unit = unit
  }
}

/// Acquisition header values per domain: rows are attributes, columns domains.
public struct HeaderTable: Codable, Sendable, Equatable {
  public var domains: [String]
  public var rows: [HeaderRow]
  public init(domains: [String], rows: [HeaderRow]) {
    self.domains = domains
    self.rows = rows
  }
}

/// One header attribute: its (summarised) value in each domain, same order as `domains`.
public struct HeaderRow: Codable, Sendable, Equatable {
  public var attribute: String
  public var values: [String]
  public init(attribute: String, values: [String]) {
    self.attribute = attribute
    self.values = values
  }
}

/// One image in the 2-D embedding.
public struct EmbeddingPoint: Codable, Sendable, Equatable {
  public var x: Double
  public var y: Double
  public var domain: String
  public var label: String?
  public init(x: Double, y: Double, domain: String, label: String? = nil) {
    self.x = x
    self.y = y
    self.domain = domain
    self.label = label
  }
}
