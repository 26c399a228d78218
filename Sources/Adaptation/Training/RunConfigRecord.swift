import Datasets
import Foundation

/// Where a run's data came from, precisely enough to check a rerun sees the same images.
public struct DataProvenance: Codable, Equatable, Sendable {
  /// The manifest or folder as given.
  public var source: String
  /// SHA-256 of the manifest bytes (or of the sorted file list of a folder).
  public var sourceSHA256: String
  /// Domains trained on (empty: all).
  public var domains: [String]
  /// Unlabelled target domain (AdaBN/CORAL), if any.
  public var targetDomain: String?
  /// Class names in label-index order.
  public var classes: [String]
  /// Images per split after the label budget (`train`, `val`, `test`, `target`).
  public var counts: [String: Int]
  /// SHA-256 of the split assignment (which image went where).
  public var splitSHA256: String
  /// SHA-256 of the preprocessing description (window, size, channels, normalisation).
  public var preprocessingSHA256: String
  /// The preprocessing description itself.
  public var preprocessing: String
  /// Cache folder and the SHA-256 of the cache keys used, when a cache was used.
  public var cache: String?
  public var cacheSHA256: String?
  /// Rows left out under `--on-bad skip` (bad manifest rows and undecodable images); nil when
  /// none were (and in records written before it existed).
  public var skipped: [BadRow]?
  /// The window policy asked for (`auto`, `file`, `C,W`, `pLOW,HIGH`; nil in records written
  /// before it was selectable, which all used the fixed lung window C −600, W 1500).
  public var window: String?
  /// How many images got each window (e.g. "file window C -600 W 1500": 240); nil in old
  /// records.
  public var windows: [String: Int]?

  /// Creates a provenance record.
  public init(
    source: String, sourceSHA256: String, domains: [String], targetDomain: String?,
    classes: [String], counts: [String: Int], splitSHA256: String,
    preprocessingSHA256: String, preprocessing: String, cache: String? = nil,
    cacheSHA256: String? = nil, skipped: [BadRow]? = nil, window: String? = nil,
    windows: [String: Int]? = nil
  ) {
    self.window = window
    self.windows = windows
    self.source = source
    self.sourceSHA256 = sourceSHA256
    self.domains = domains
    self.targetDomain = targetDomain
    self.classes = classes
    self.counts = counts
    self.splitSHA256 = splitSHA256
    self.preprocessingSHA256 = preprocessingSHA256
    self.preprocessing = preprocessing
    self.cache = cache
    self.cacheSHA256 = cacheSHA256
    self.skipped = skipped
  }
}

/// The pretrained weights a run started from.
public struct WeightsProvenance: Codable, Equatable, Sendable {
  /// Registry name (`efficientnet-lite0`).
  public var name: String
  /// The weight file.
  public var file: String
  /// Its SHA-256.
  public var sha256: String

  /// Creates a record.
  public init(name: String, file: String, sha256: String) {
    self.name = name
    self.file = file
    self.sha256 = sha256
  }
}

/// `config.json`: everything needed to rerun a training run.
public struct RunConfigRecord: Codable, Equatable, Sendable {
  /// The training configuration.
  public var configuration: TrainingConfiguration
  /// The data and its hashes.
  public var data: DataProvenance
  /// The pretrained weights (nil for scratch).
  public var weights: WeightsProvenance?
  /// The command line that started the run.
  public var command: String
  /// `medtransfer --version`.
  public var version: String

  /// Creates a record.
  public init(
    configuration: TrainingConfiguration, data: DataProvenance,
    weights: WeightsProvenance?, command: String, version: String
  ) {
    self.configuration = configuration
    self.data = data
    self.weights = weights
    self.command = command
    self.version = version
  }
}

extension RunDirectory {
  /// Pretty, key-sorted JSON bytes of `value` (non-finite numbers as strings).
  public static func prettyJSON<T: Encodable>(_ value: T) throws -> Data {
    try encoder.encode(value)
  }
}
