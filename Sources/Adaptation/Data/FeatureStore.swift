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
  static let statisticsMagic: UInt32 = 0x314E_424D  // "MBN1"
  static let predictionsMagic: UInt32 = 0x3152_504D  // "MPR1"
  static let headerBytes = 16

  /// The folder (a study's `features/`).
  public let directory: URL
  private let lock = NSLock()
  private var counters = (computed: 0, reused: 0, statistics: 0, predictions: 0)

  /// Where `train` keeps features: `features/` under Interchange's `cacheRoot()`.
  public static var defaultRoot: URL { cacheRoot().appendingPathComponent("features") }

  /// A store in `directory` (created when first written).
  public init(directory: URL) { self.directory = directory }

  /// (images computed, images read back) since the store was opened.
  public var statistics: (computed: Int, reused: Int) {
    lock.lock()
    defer { lock.unlock() }
    return (counters.computed, counters.reused)
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
    let folder = directory.appendingPathComponent(model.backboneStateHash()).path
    let path = "\(folder)/\(Self.setKey(images, batchSize: batchSize)).f32"
    var rows = StoredRows(path: path, rows: set.count, dimension: d)
    let reused = rows != nil
    if !reused, write(model, set, batchSize: batchSize, folder: folder, to: path) {
      rows = StoredRows(path: path, rows: set.count, dimension: d)
    }
    guard let rows else { return model.computeFeatures(set, batchSize: batchSize) }
    lock.lock()
    if reused { counters.reused += set.count } else { counters.computed += set.count }
    lock.unlock()
    return FeatureSet(
      storage: .stored(rows), dimension: d, labels: set.labels, classes: set.classes,
      domains: set.domains, subgroups: set.subgroups)
  }

  /// A set's key: the SHA-256 of its images' tensor-cache keys, in order, and the batch size.
  static func setKey(_ images: CachedImages, batchSize: Int) -> String {
    let keys = (0..<images.count).map { images.key($0) }.joined(separator: "\n")
    return sha256Hex(Data("\(keys)\n\(batchSize)".utf8))
  }

  /// Number of AdaBN re-estimations read back instead of computed.
  public var statisticsReused: Int {
    lock.lock()
    defer { lock.unlock() }
    return counters.statistics
  }

  /// AdaBN on a frozen computation: the BatchNorm buffers `adapt` leaves in `model` are a
  /// function of the backbone's state before it and the set's images and batching, so they
  /// are stored beside that state's features (`adabn-<set>.f32`) and written back into the
  /// model when asked again: every run of a seed re-estimates the same source model on the
  /// same source images, and a frozen backbone the same statistics before and after training.
  /// Returns what `adapt` returns (images seen).
  func adaBN(
    _ model: TransferModel, _ set: ImageSet, batchSize: Int, adapt: () -> Int
  ) -> Int {
    guard case .cached(let images) = set.storage, set.count > 0 else { return adapt() }
    let folder = directory.appendingPathComponent(model.backboneStateHash()).path
    let path = "\(folder)/adabn-\(Self.setKey(images, batchSize: batchSize)).f32"
    let buffers = model.backbone.buffers.map(\.tensor)
    let total = buffers.reduce(0) { $0 + $1.count }
    if let (seen, values) = Self.readRecord(
      path, magic: Self.statisticsMagic, first: total, count: total)
    {
      values.withUnsafeBytes { raw in
        var offset = 0
        for t in buffers {
          let bytes = t.count * MemoryLayout<Float>.stride
          UnsafeMutableRawPointer(t.data).copyMemory(
            from: raw.baseAddress! + offset, byteCount: bytes)
          offset += bytes
        }
      }
      lock.lock()
      counters.statistics += 1
      lock.unlock()
      return seen
    }
    let seen = adapt()
    Self.writeRecord(
      path, magic: Self.statisticsMagic, first: total, second: seen,
      values: buffers.map { UnsafeRawBufferPointer(start: $0.data, count: $0.count * 4) })
    return seen
  }

  /// Number of prediction sets read back instead of computed.
  public var predictionsReused: Int {
    lock.lock()
    defer { lock.unlock() }
    return counters.predictions
  }

  /// A whole model's class probabilities on `set` in inference mode, as `compute` gives them
  /// (`Trainer.predict`), stored under the model's full state (`modelStateHash()`, head
  /// included) and the set: every arm of a seed scores the same source model on the same
  /// test sets before it adapts, and the report reads those scores from every run. Only for
  /// scores of a state that other runs share; a run's own trained state is never asked twice.
  func probabilities(
    _ model: TransferModel, _ set: ImageSet, batchSize: Int, compute: () -> [Float]
  ) -> [Float] {
    guard case .cached(let images) = set.storage, set.count > 0 else { return compute() }
    let classes = model.head.classes
    let folder = directory.appendingPathComponent(model.modelStateHash()).path
    let path = "\(folder)/predictions-\(Self.setKey(images, batchSize: batchSize)).f32"
    if let (rows, values) = Self.readRecord(
      path, magic: Self.predictionsMagic, first: classes, count: set.count * classes),
      rows == set.count
    {
      lock.lock()
      counters.predictions += 1
      lock.unlock()
      return values.withUnsafeBytes { [Float]($0.bindMemory(to: Float.self)) }
    }
    let probabilities = compute()
    probabilities.withUnsafeBytes {
      Self.writeRecord(
        path, magic: Self.predictionsMagic, first: classes, second: set.count, values: [$0])
    }
    return probabilities
  }

  /// One of the store's small files (AdaBN statistics, predictions): a 16-byte header (magic,
  /// `first`, `second`, 0) and Float32 values, written atomically; a file that cannot be written
  /// is only computed again next time.
  static func writeRecord(
    _ path: String, magic: UInt32, first: Int, second: Int, values: [UnsafeRawBufferPointer]
  ) {
    var data = Data()
    let header: [UInt32] = [magic, UInt32(first), UInt32(second), 0]
    header.withUnsafeBytes { data.append(contentsOf: $0) }
    for v in values { data.append(contentsOf: v) }
    try? FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  /// A `writeRecord` file when whole: its magic, header word `first` and `count` values match;
  /// returns header word `second` and the values' bytes, or nil (damaged, foreign or absent).
  static func readRecord(_ path: String, magic: UInt32, first: Int, count: Int)
    -> (second: Int, values: Data)?
  {
    guard let data = FileManager.default.contents(atPath: path),
      data.count == headerBytes + count * MemoryLayout<Float>.stride
    else { return nil }
    let header = data.prefix(headerBytes).withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
    guard header[0] == magic, header[1] == UInt32(first) else { return nil }
    return (Int(header[2]), data.dropFirst(headerBytes))
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

}

/// A stored feature set's file, opened once and held open while its `FeatureSet` lives: a file
/// removed from the store meanwhile (another process cleaning it, a user deleting `features/`)
/// keeps its rows readable until the set is released.
public final class StoredRows: @unchecked Sendable {
  /// Where the file was when it was opened.
  public let path: String
  private let fd: Int32

  /// Opens `path` when it holds `rows` rows of width `dimension`; nil when it cannot be opened
  /// or is damaged or foreign (then the set is computed again).
  init?(path: String, rows: Int, dimension: Int) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    var header = [UInt32](repeating: 0, count: FeatureStore.headerBytes / 4)
    var st = stat()
    guard fstat(fd, &st) == 0,
      header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, $0.count, 0) })
        == FeatureStore.headerBytes,
      header[0] == FeatureStore.magic, header[1] == UInt32(dimension),
      header[2] == UInt32(rows),
      Int(st.st_size) == FeatureStore.headerBytes + rows * dimension * MemoryLayout<Float>.stride
    else {
      close(fd)
      return nil
    }
    self.path = path
    self.fd = fd
  }

  deinit { close(fd) }

  /// Reads rows `indices` into `out` ((n, D) row-major).
  func read(_ indices: [Int], dimension d: Int, into out: UnsafeMutablePointer<Float>) {
    let bytes = d * MemoryLayout<Float>.stride
    for (row, i) in indices.enumerated() {
      var done = 0
      while done < bytes {
        let got = pread(
          fd, UnsafeMutableRawPointer(out + row * d) + done, bytes - done,
          off_t(FeatureStore.headerBytes + i * bytes + done))
        guard got > 0 else {
          // The file was checked whole and is held open, so only the disk can fail here.
          preconditionFailure(
            "Reading the stored features \(path) failed (errno \(errno)): the disk returned an "
              + "error for a file that was whole when opened.")
        }
        done += got
      }
    }
  }
}

extension TransferModel {
  /// The SHA-256 of the backbone's state: every parameter and buffer, by name, in name order.
  /// Two backbones with this hash compute the same features.
  public func backboneStateHash() -> String {
    Self.stateHash(backbone.parameters.map { ($0.name, $0.parameter.value) } + backbone.buffers)
  }

  /// SHA-256 over named tensors in name order: each name, its size and its values.
  static func stateHash(_ tensors: [(name: String, tensor: Tensor)]) -> String {
    var data = Data()
    for (name, tensor) in tensors.sorted(by: { $0.name < $1.name }) {
      data.append(contentsOf: Array(name.utf8) + [0])
      withUnsafeBytes(of: UInt64(tensor.count).littleEndian) { data.append(contentsOf: $0) }
      data.append(
        UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4).bindMemory(
          to: UInt8.self))
    }
    return sha256Hex(data)
  }

  /// The SHA-256 of the whole model's state: backbone and head parameters and the buffers.
  /// Two models with this hash give the same predictions.
  public func modelStateHash() -> String {
    Self.stateHash(stateTensors)
  }

  /// Whether no backbone parameter trains (linear probe, `features+logreg`, `partial(0)`).
  public var backboneIsFrozen: Bool { backbone.parameters.allSatisfy { $0.parameter.frozen } }
}
