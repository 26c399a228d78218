import Datasets
import Foundation
import Interchange
import Neural

#if canImport(Glibc)
  import Glibc
#endif

/// Pooled backbone features kept on disk, so a frozen backbone runs over an image set once per
/// study instead of once per run.
///
/// The unit is an image set as a run computes it: the features of a set's images in its order,
/// in batches of `batchSize`, in inference mode, under one backbone state. That computation is
/// a function of the backbone's state (every parameter and BatchNorm buffer), the set's images
/// and the batching, and it is exactly what a run without the store does, so a set read back
/// equals the one the run would compute, bit for bit (`FeatureStoreTests`). Sets, not single
/// images, are the unit because a row's last bits depend on the batch it was computed in
/// (OpenBLAS rounds a row differently in products of different heights; see `Gemm`): a
/// per-image store would return an image's features from whichever batch computed it first.
///
/// What is shared: a seed's test, validation, source-test and unlabelled-target sets between
/// every budget and both frozen-backbone arms (`linear-probe`, `features+logreg`), and a
/// budget's train set between those arms; every evaluation of a frozen model. What is not:
/// the train sets of different budgets (different sets), and any backbone that trains.
///
/// A file is `<directory>/<backbone state SHA-256>/<set SHA-256>.f32`: a 16-byte header
/// (magic, feature width, rows, batch size) and the rows as Float32, written to a temporary
/// name and renamed, so processes sharing the folder never read half a file. The set's hash
/// covers its images' tensor-cache keys (preprocessing and file SHA-256), in order, and the
/// batch size. Only sets read from the tensor cache have keys; sets built in memory are always
/// computed.
public final class FeatureStore: @unchecked Sendable {
  static let magic: UInt32 = 0x3254_464D  // "MFT2"
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

  /// The features of `set` under `model`'s backbone in inference mode, computed as
  /// `computeFeatures` computes them, or read back when this set was computed before. The
  /// returned set streams its rows from the file; where the store cannot be written the rows
  /// are computed into memory.
  func features(_ model: TransferModel, _ set: ImageSet, batchSize: Int) -> FeatureSet {
    guard case .cached(let images) = set.storage, set.count > 0 else {
      return model.computeFeatures(set, batchSize: batchSize)
    }
    let d = model.featureDimension
    let keys = (0..<set.count).map { images.key($0) }.joined(separator: "\n")
    let folder = directory.appendingPathComponent(model.backboneStateHash()).path
    let path = "\(folder)/\(sha256Hex(Data("\(keys)\n\(batchSize)".utf8))).f32"
    let reused = Self.isComplete(path, rows: set.count, dimension: d)
    if !reused, !write(model, set, batchSize: batchSize, folder: folder, to: path) {
      return model.computeFeatures(set, batchSize: batchSize)
    }
    lock.lock()
    if reused { counters.reused += set.count } else { counters.computed += set.count }
    lock.unlock()
    return FeatureSet(
      storage: .stored(path), dimension: d, labels: set.labels, classes: set.classes,
      domains: set.domains, subgroups: set.subgroups)
  }

  /// Whether `path` holds `rows` rows of width `dimension` (a damaged or foreign file does not).
  static func isComplete(_ path: String, rows: Int, dimension: Int) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var header = [UInt32](repeating: 0, count: headerBytes / 4)
    var st = stat()
    guard fstat(fd, &st) == 0,
      header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, $0.count, 0) }) == headerBytes
    else { return false }
    return header[0] == magic && header[1] == UInt32(dimension) && header[2] == UInt32(rows)
      && Int(st.st_size) == headerBytes + rows * dimension * MemoryLayout<Float>.stride
  }

  /// Computes the set's features batch by batch (as `computeFeatures` does), appending each
  /// batch's rows to a temporary file renamed to `path` at the end; false if it cannot be
  /// written. Memory holds one batch, whatever the set's size.
  private func write(
    _ model: TransferModel, _ set: ImageSet, batchSize: Int, folder: String, to path: String
  ) -> Bool {
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let temp = path + ".\(getpid()).partial"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return false }
    var ok = true
    func append(_ p: UnsafeRawPointer, _ bytes: Int) {
      var done = 0
      while ok && done < bytes {
        let n = Glibc.write(fd, p + done, bytes - done)
        if n <= 0 { ok = false } else { done += n }
      }
    }
    let header: [UInt32] = [
      Self.magic, UInt32(model.featureDimension), UInt32(set.count), UInt32(batchSize),
    ]
    header.withUnsafeBytes { append($0.baseAddress!, $0.count) }
    for indices in set.batchIndices(size: batchSize, shuffleSeed: nil) where ok {
      let f = model.backbone.forward(set.batch(indices), mode: .inference)
      append(UnsafeRawPointer(f.data), f.count * MemoryLayout<Float>.stride)
    }
    ok = fsync(fd) == 0 && ok
    close(fd)
    guard ok, rename(temp, path) == 0 else {
      unlink(temp)
      return false
    }
    return true
  }

  /// Reads rows `indices` of a stored set into `out` ((n, D) row-major).
  static func read(
    _ path: String, rows indices: [Int], dimension d: Int, into out: UnsafeMutablePointer<Float>
  ) {
    let fd = open(path, O_RDONLY)
    defer { if fd >= 0 { close(fd) } }
    let bytes = d * MemoryLayout<Float>.stride
    for (row, i) in indices.enumerated() {
      let got =
        fd < 0 ? -1 : pread(fd, out + row * d, bytes, off_t(headerBytes + i * bytes))
      guard got == bytes else {
        preconditionFailure(
          "The stored features \(path) went away during the run; a feature store must not be "
            + "cleaned while a run uses it.")
      }
    }
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
