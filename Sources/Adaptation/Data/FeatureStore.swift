import Datasets
import Foundation
import Interchange
import Neural

#if canImport(Glibc)
  import Glibc
#endif

/// Pooled backbone features kept on disk, one file per (backbone state, image), so a frozen
/// backbone runs over each image once per study instead of once per run.
///
/// A frozen backbone's features are a function of its state (every parameter and BatchNorm
/// buffer) and of the preprocessed image, nothing else: inference mode, no augmentation, and
/// every row of a batch computed independently of the others (GEMM rows, per-channel
/// BatchNorm, per-image pooling). So a feature read back equals the one a run would compute,
/// bit for bit (`FeatureStoreTests` runs both). The key is the SHA-256 of the backbone's state
/// and the image's tensor-cache key (its preprocessing and the SHA-256 of its file), so
/// `linear-probe` and `features+logreg` share features across budgets, seeds and arms whenever
/// their backbones are the same weights, and never otherwise.
///
/// A file is `<directory>/<state hash>/<preprocessing>-<image SHA-256>.f32`: a 16-byte header
/// (magic, feature width) and the Float32 features, written to a temporary name and renamed, so
/// processes sharing the folder never read half a file. Only images read from the tensor cache
/// have keys; sets built in memory are always computed.
public final class FeatureStore: @unchecked Sendable {
  static let magic: UInt32 = 0x3154_464D  // "MFT1"
  static let headerBytes = 16

  /// The folder (a study's `features/`).
  public let directory: URL
  private let lock = NSLock()
  private var counters = (computed: 0, reused: 0)

  /// Where `train` keeps features: `features/` under Interchange's `cacheRoot()`.
  public static var defaultRoot: URL { cacheRoot().appendingPathComponent("features") }

  /// A store in `directory` (created when first written).
  public init(directory: URL) { self.directory = directory }

  /// (images computed, images read back) since the store was opened.
  public var statistics: (computed: Int, reused: Int) {
    lock.lock()
    defer { lock.unlock() }
    return counters
  }

  /// The features of `set` under `model`'s backbone in inference mode: those stored are read
  /// back, the missing ones computed (in batches of `batchSize`, in the set's order) and
  /// stored. The set streams its rows from the store's files; where the store cannot be
  /// written it holds them in memory.
  func features(_ model: TransferModel, _ set: ImageSet, batchSize: Int) -> FeatureSet {
    guard case .cached(let images) = set.storage, set.count > 0 else {
      return model.computeFeatures(set, batchSize: batchSize)
    }
    let d = model.featureDimension
    let folder = directory.appendingPathComponent(model.backboneStateHash()).path
    let paths = (0..<set.count).map { "\(folder)/\(images.key($0)).f32" }
    let probe = UnsafeMutablePointer<Float>.allocate(capacity: d)
    defer { probe.deallocate() }
    let missing = (0..<set.count).filter { !Self.read(paths[$0], dimension: d, into: probe) }
    var unstored: [Int: [Float]] = [:]
    if !missing.isEmpty {
      try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      var start = 0
      while start < missing.count {
        let rows = Array(missing[start..<min(start + batchSize, missing.count)])
        let f = model.backbone.forward(set.batch(rows), mode: .inference)
        for (k, i) in rows.enumerated() {
          let row = UnsafeBufferPointer(start: f.data + k * d, count: d)
          if !write(row, to: paths[i]) { unstored[i] = Array(row) }
        }
        start += batchSize
      }
    }
    lock.lock()
    counters.computed += missing.count
    counters.reused += set.count - missing.count
    lock.unlock()
    let storage: FeatureSet.Storage
    if unstored.isEmpty {
      storage = .stored(paths)
    } else {
      var values = [Float](repeating: 0, count: set.count * d)
      values.withUnsafeMutableBufferPointer { out in
        for i in 0..<set.count {
          if let row = unstored[i] {
            (out.baseAddress! + i * d).update(from: row, count: d)
          } else if !Self.read(paths[i], dimension: d, into: out.baseAddress! + i * d) {
            preconditionFailure("The stored features \(paths[i]) went away during the run.")
          }
        }
      }
      storage = .memory(values)
    }
    return FeatureSet(
      storage: storage, dimension: d, labels: set.labels, classes: set.classes,
      domains: set.domains, subgroups: set.subgroups)
  }

  /// Reads one stored feature row; false when it is missing or not `dimension` wide.
  static func read(_ path: String, dimension d: Int, into out: UnsafeMutablePointer<Float>)
    -> Bool
  {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var header = [UInt32](repeating: 0, count: headerBytes / 4)
    let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard got == headerBytes, header[0] == magic, header[1] == UInt32(d) else { return false }
    let bytes = d * MemoryLayout<Float>.stride
    return pread(fd, UnsafeMutableRawPointer(out), bytes, off_t(headerBytes)) == bytes
  }

  /// Writes one feature row whole or not at all; false when the store cannot be written.
  private func write(_ row: UnsafeBufferPointer<Float>, to path: String) -> Bool {
    var data = Data()
    let header: [UInt32] = [Self.magic, UInt32(row.count), 0, 0]
    header.withUnsafeBytes { data.append(contentsOf: $0) }
    data.append(UnsafeRawBufferPointer(row).bindMemory(to: UInt8.self))
    let temp = path + ".\(getpid()).partial"
    guard FileManager.default.createFile(atPath: temp, contents: data) else { return false }
    if rename(temp, path) != 0 {
      unlink(temp)
      return false
    }
    return true
  }
}

extension TransferModel {
  /// The SHA-256 of the backbone's state: every parameter and buffer, by name, in name order.
  /// Two backbones with this hash compute the same features.
  public func backboneStateHash() -> String {
    var data = Data()
    let tensors =
      backbone.parameters.map { ($0.name, $0.parameter.value) } + backbone.buffers
    for (name, tensor) in tensors.sorted(by: { $0.0 < $1.0 }) {
      data.append(contentsOf: Array(name.utf8) + [0])
      withUnsafeBytes(of: UInt64(tensor.count).littleEndian) { data.append(contentsOf: $0) }
      data.append(
        UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4).bindMemory(
          to: UInt8.self))
    }
    return sha256Hex(data)
  }

  /// Whether no backbone parameter trains (linear probe, `features+logreg`, `partial(0)`).
  public var backboneIsFrozen: Bool { backbone.parameters.allSatisfy { $0.parameter.frozen } }
}
