import Datasets
import Foundation
import Neural
import Randomness

/// Preprocessed images with their labels and metadata: what the trainer consumes.
///
/// Datasets produces these (decode → window → resize → normalise, cached) as `CachedImages`:
/// the set holds the images' cache entries and reads each batch from them, so a run's memory
/// does not grow with its dataset. Tests build tiny ones in memory. Either way `batch` gives
/// the same (n, H, W, C) channels-last values, bit for bit.
public struct ImageSet {
  /// Where the images are.
  public enum Storage {
    /// All images in one (N, H, W, C) tensor.
    case memory(Tensor)
    /// The images' tensor-cache entries, read per batch.
    case cached(CachedImages)
  }

  /// The images.
  public private(set) var storage: Storage
  /// Height, width and channels of every image.
  public let height: Int
  public let width: Int
  public let channels: Int
  /// Label index per image, in 0..<classes.count.
  public var labels: [Int]
  /// Class names in label-index order.
  public var classes: [String]
  /// Domain (site/scanner) per image, when known.
  public var domains: [String]?
  /// Subgroup keys per image (`sex=F`, `age=40-59`), when known.
  public var subgroups: [[String]]?

  /// Creates a set held in memory; every per-image array must have N entries.
  public init(
    images: Tensor, labels: [Int], classes: [String], domains: [String]? = nil,
    subgroups: [[String]]? = nil
  ) {
    precondition(
      images.shape.count == 4 && images.shape[0] == labels.count,
      "ImageSet needs (N, H, W, C) images and N labels; got \(images.shape), \(labels.count).")
    self.init(
      storage: .memory(images), height: images.shape[1], width: images.shape[2],
      channels: images.shape[3], labels: labels, classes: classes, domains: domains,
      subgroups: subgroups)
  }

  /// Creates a set streamed from tensor-cache entries.
  public init(
    cached images: CachedImages, labels: [Int], classes: [String], domains: [String]? = nil,
    subgroups: [[String]]? = nil
  ) {
    precondition(
      images.count == labels.count,
      "ImageSet needs one label per image; got \(images.count) images, \(labels.count) labels.")
    let p = images.cache.preprocessing
    self.init(
      storage: .cached(images), height: p.size, width: p.size, channels: p.channels,
      labels: labels, classes: classes, domains: domains, subgroups: subgroups)
  }

  private init(
    storage: Storage, height: Int, width: Int, channels: Int, labels: [Int], classes: [String],
    domains: [String]?, subgroups: [[String]]?
  ) {
    precondition(
      domains.map { $0.count == labels.count } ?? true, "ImageSet: one domain per image.")
    precondition(
      subgroups.map { $0.count == labels.count } ?? true,
      "ImageSet: one subgroup list per image.")
    self.storage = storage
    self.height = height
    self.width = width
    self.channels = channels
    self.labels = labels
    self.classes = classes
    self.domains = domains
    self.subgroups = subgroups
  }

  /// Number of images.
  public var count: Int { labels.count }

  /// Elements per image (H·W·C).
  public var imageSize: Int { height * width * channels }

  /// The images at `indices`, as one (n, H, W, C) tensor.
  public func batch(_ indices: [Int]) -> Tensor {
    let s = imageSize
    let t = Tensor(shape: [indices.count, height, width, channels])
    switch storage {
    case .memory(let images):
      for (row, i) in indices.enumerated() {
        (t.data + row * s).update(from: images.data + i * s, count: s)
      }
    case .cached(let images):
      for (row, i) in indices.enumerated() { images.read(i, into: t.data + row * s) }
    }
    return t
  }

  /// Every image as one (N, H, W, C) tensor (memory grows with N: for tests and small sets).
  public var allImages: Tensor { batch(Array(0..<count)) }

  /// The subset at `indices` (a streamed set stays streamed; a set in memory copies).
  public func subset(_ indices: [Int]) -> ImageSet {
    let images: Storage
    switch storage {
    case .memory: images = .memory(batch(indices))
    case .cached(let cached): images = .cached(cached.subset(indices))
    }
    return ImageSet(
      storage: images, height: height, width: width, channels: channels,
      labels: indices.map { labels[$0] }, classes: classes,
      domains: domains.map { d in indices.map { d[$0] } },
      subgroups: subgroups.map { g in indices.map { g[$0] } })
  }

  /// Batches of `size` indices in order, or shuffled by `seed`; the last batch may be smaller.
  /// With `dropLast`, a last batch smaller than 2 is dropped (BatchNorm needs 2 rows).
  public func batchIndices(size: Int, shuffleSeed: UInt64?, dropLast: Bool = false) -> [[Int]] {
    var order = Array(0..<count)
    if let seed = shuffleSeed {
      var g = SeededGenerator(seed: seed)
      g.shuffle(&order)
    }
    var out: [[Int]] = []
    var start = 0
    while start < order.count {
      let end = min(start + size, order.count)
      out.append(Array(order[start..<end]))
      start = end
    }
    if dropLast, let last = out.last, last.count < 2, out.count > 1 { out.removeLast() }
    return out
  }
}

/// Features extracted once from a frozen backbone, with the labels and metadata of their images.
///
/// Computed ones are held in memory; those of a `FeatureStore` stay in its file and each batch
/// reads its rows, so a linear probe's memory does not grow with its dataset either.
public struct FeatureSet {
  /// Where the rows are.
  public enum Storage {
    /// (N, D) row-major.
    case memory([Float])
    /// A `FeatureStore` file holding the rows in order, open for the set's lifetime.
    case stored(StoredRows)
  }

  /// The rows.
  public let storage: Storage
  /// D.
  public var dimension: Int
  /// Labels and metadata of the images.
  public var labels: [Int]
  public var classes: [String]
  public var domains: [String]?
  public var subgroups: [[String]]?

  /// Features held in memory, (N, D) row-major.
  public init(
    features: [Float], dimension: Int, labels: [Int], classes: [String],
    domains: [String]? = nil, subgroups: [[String]]? = nil
  ) {
    precondition(features.count == labels.count * dimension, "FeatureSet: N·D features.")
    self.init(
      storage: .memory(features), dimension: dimension, labels: labels, classes: classes,
      domains: domains, subgroups: subgroups)
  }

  init(
    storage: Storage, dimension: Int, labels: [Int], classes: [String], domains: [String]?,
    subgroups: [[String]]?
  ) {
    self.storage = storage
    self.dimension = dimension
    self.labels = labels
    self.classes = classes
    self.domains = domains
    self.subgroups = subgroups
  }

  /// Number of rows.
  public var count: Int { labels.count }

  /// Every row, (N, D) row-major (memory grows with N: what a regression fitted on all rows at
  /// once needs).
  public var features: [Float] {
    switch storage {
    case .memory(let values): return values
    case .stored: return batch(Array(0..<count)).array
    }
  }

  /// The rows at `indices` as an (n, D) tensor.
  public func batch(_ indices: [Int]) -> Tensor {
    let d = dimension
    let t = Tensor(shape: [indices.count, d])
    switch storage {
    case .memory(let values):
      values.withUnsafeBufferPointer {
        for (row, i) in indices.enumerated() {
          (t.data + row * d).update(from: $0.baseAddress! + i * d, count: d)
        }
      }
    case .stored(let rows):
      rows.read(indices, dimension: d, into: t.data)
    }
    return t
  }
}

extension TransferModel {
  /// The backbone's features of `set` in inference mode, from `featureStore` when the model has
  /// one (computing and storing the missing ones), else computed.
  public func extractFeatures(_ set: ImageSet, batchSize: Int = 64) -> FeatureSet {
    if let featureStore { return featureStore.features(self, set, batchSize: batchSize) }
    return computeFeatures(set, batchSize: batchSize)
  }

  /// Runs the backbone in inference mode over `set` and keeps the features.
  func computeFeatures(_ set: ImageSet, batchSize: Int) -> FeatureSet {
    var out: [Float] = []
    out.reserveCapacity(set.count * featureDimension)
    for indices in set.batchIndices(size: batchSize, shuffleSeed: nil) {
      let f = backbone.forward(set.batch(indices), mode: .inference)
      out += f.array
    }
    return FeatureSet(
      features: out, dimension: featureDimension, labels: set.labels,
      classes: set.classes, domains: set.domains, subgroups: set.subgroups)
  }
}
