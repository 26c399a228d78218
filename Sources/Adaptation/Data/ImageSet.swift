import Foundation
import Neural
import Randomness

/// Preprocessed images in memory with their labels and metadata: what the trainer consumes.
///
/// Datasets produces these (decode → window → resize → normalise, cached); tests build tiny
/// ones directly. Images are channels-last (N, H, W, C).
public struct ImageSet {
  /// All images, (N, H, W, C).
  public var images: Tensor
  /// Label index per image, in 0..<classes.count.
  public var labels: [Int]
  /// Class names in label-index order.
  public var classes: [String]
  /// Domain (site/scanner) per image, when known.
  public var domains: [String]?
  /// Subgroup keys per image (`sex=F`, `age=40-59`), when known.
  public var subgroups: [[String]]?

  /// Creates a set; every per-image array must have N entries.
  public init(
    images: Tensor, labels: [Int], classes: [String], domains: [String]? = nil,
    subgroups: [[String]]? = nil
  ) {
    precondition(
      images.shape.count == 4 && images.shape[0] == labels.count,
      "ImageSet needs (N, H, W, C) images and N labels; got \(images.shape), \(labels.count).")
    precondition(
      domains.map { $0.count == labels.count } ?? true, "ImageSet: one domain per image.")
    precondition(
      subgroups.map { $0.count == labels.count } ?? true,
      "ImageSet: one subgroup list per image.")
    self.images = images
    self.labels = labels
    self.classes = classes
    self.domains = domains
    self.subgroups = subgroups
  }

  /// Number of images.
  public var count: Int { labels.count }

  /// Elements per image (H·W·C).
  public var imageSize: Int { images.shape[1] * images.shape[2] * images.shape[3] }

  /// The images at `indices`, as one (n, H, W, C) tensor.
  public func batch(_ indices: [Int]) -> Tensor {
    let s = imageSize
    let t = Tensor(shape: [indices.count, images.shape[1], images.shape[2], images.shape[3]])
    for (row, i) in indices.enumerated() {
      (t.data + row * s).update(from: images.data + i * s, count: s)
    }
    return t
  }

  /// The subset at `indices` (copies).
  public func subset(_ indices: [Int]) -> ImageSet {
    ImageSet(
      images: batch(indices), labels: indices.map { labels[$0] }, classes: classes,
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
public struct FeatureSet {
  /// (N, D) features, row-major.
  public var features: [Float]
  /// D.
  public var dimension: Int
  /// Labels and metadata of the images.
  public var labels: [Int]
  public var classes: [String]
  public var domains: [String]?
  public var subgroups: [[String]]?

  /// Number of rows.
  public var count: Int { labels.count }

  /// The rows at `indices` as an (n, D) tensor.
  public func batch(_ indices: [Int]) -> Tensor {
    let t = Tensor(shape: [indices.count, dimension])
    for (row, i) in indices.enumerated() {
      features.withUnsafeBufferPointer {
        (t.data + row * dimension).update(from: $0.baseAddress! + i * dimension, count: dimension)
      }
    }
    return t
  }
}

extension TransferModel {
  /// Runs the backbone in inference mode over `set` and keeps the features.
  public func extractFeatures(_ set: ImageSet, batchSize: Int = 64) -> FeatureSet {
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
