import Foundation
import Interchange

#if canImport(Glibc)
  import Glibc
#endif

/// A preprocessed image held in a memory-mapped cache file (read-only).
public final class MappedImage: @unchecked Sendable {
  /// Height, width, channels (of the image the preprocessing produces).
  public let height: Int
  public let width: Int
  public let channels: Int
  /// The H×W gray plane every channel repeats (`Preprocessing.applyPlane`).
  public let plane: UnsafePointer<Float>
  /// The window the image got (from the entry header; centre and width as Float32).
  public let window: Preprocessing.AppliedWindow?
  /// The cache entry's file (what `CachedImages` reads again on demand).
  public let entry: String
  private let base: UnsafeMutableRawPointer
  private let length: Int

  init(
    entry: String, base: UnsafeMutableRawPointer, length: Int, height: Int, width: Int,
    channels: Int
  ) {
    self.entry = entry
    self.base = base
    self.length = length
    self.height = height
    self.width = width
    self.channels = channels
    plane = UnsafePointer(
      base.advanced(by: TensorCache.headerBytes).assumingMemoryBound(to: Float.self))
    window = TensorCache.decodeWindow(
      UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt32.self), count: 8))
  }

  deinit { munmap(base, length) }

  /// Number of values (H·W·C).
  public var count: Int { height * width * channels }

  /// Writes the H×W×C channels-last image (`count` floats) to `out`.
  public func copy(into out: UnsafeMutablePointer<Float>) {
    Preprocessing.replicate(plane, pixels: height * width, channels: channels, into: out)
  }

  /// The H×W×C values as an array (copies).
  public var array: [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      copy(into: buffer.baseAddress!)
      initialized = count
    }
  }
}

/// Decodes and preprocesses each image once into a memory-mappable cache file.
///
/// An entry's file is `<root>/<preprocessing hash prefix>/<ab>/<content sha256>.f32`: a
/// 32-byte header (magic "MTT2", version, H, W, planes = 1, window rule + inversion, window
/// centre and width as Float32 bits) followed by the H·W little-endian Float32 of the gray
/// plane. The preprocessing's channels all repeat that plane, so storing it once makes a
/// 3-channel entry a third of the size (40,000 images at 224 px: 8 GB instead of 24, which
/// then fits this machine's page cache); readers replicate it (`Preprocessing.replicate`),
/// bit for bit the values `Preprocessing.apply` gives. Entries of the first format ("MTT1",
/// every channel stored) are misses and are rewritten in place. The key
/// is the SHA-256 of the image file's bytes plus the preprocessing hash, so editing a file or
/// changing a setting misses exactly the affected entries; nothing needs invalidating by hand.
/// Writes go to a temporary file renamed into place, so concurrent processes never read a
/// half-written entry.
public final class TensorCache: @unchecked Sendable {
  static let headerBytes = 32
  static let magic: UInt32 = 0x3254_544D  // "MTT2"
  /// Header word 4: planes stored (one gray plane whatever the preprocessing's channels).
  static let storedPlanes: UInt32 = 1

  /// Bytes of an entry file: the header and one H·W plane.
  static func entryBytes(_ p: Preprocessing) -> Int { headerBytes + p.size * p.size * 4 }

  /// Whether `header` (8 words) is an entry header of this format and preprocessing.
  static func isCurrent(_ header: UnsafePointer<UInt32>, _ p: Preprocessing) -> Bool {
    header[0] == magic && header[1] == UInt32(p.version) && header[2] == UInt32(p.size)
      && header[3] == UInt32(p.size) && header[4] == storedPlanes
  }

  /// The preprocessing applied to every entry.
  public let preprocessing: Preprocessing
  /// The folder holding this preprocessing's entries.
  public let directory: String
  /// The image files' SHA-256s, remembered against their `stat` (so a hit reads no image).
  public let digests: FileDigests
  private let lock = NSLock()
  private var counters = (hits: 0, misses: 0)

  /// The default root: `tensors/` under Interchange's `cacheRoot()`.
  public static var defaultRoot: String {
    cacheRoot().appendingPathComponent("tensors").path
  }

  /// Opens (creating) the cache for `preprocessing` under `root` (default: `defaultRoot`, with
  /// `FileDigests.shared`; a custom root keeps its digests in `<root>/digests`).
  public init(preprocessing: Preprocessing, root: String? = nil) throws {
    self.preprocessing = preprocessing
    digests =
      root.map { FileDigests(directory: ($0 as NSString).appendingPathComponent("digests")) }
      ?? .shared
    let root = root ?? TensorCache.defaultRoot
    directory = (root as NSString).appendingPathComponent(String(preprocessing.hash.prefix(16)))
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let description = (directory as NSString).appendingPathComponent("preprocessing.json")
      if !FileManager.default.fileExists(atPath: description) {
        let encoder = JSONCoding.encoder(.pretty)
        try encoder.encode(preprocessing).write(
          to: URL(fileURLWithPath: description), options: .atomic)
      }
    } catch {
      throw DatasetsError.cache(path: directory, cause: error.localizedDescription)
    }
  }

  /// (hits, misses) since the cache was opened.
  public var statistics: (hits: Int, misses: Int) {
    lock.lock()
    defer { lock.unlock() }
    return counters
  }

  /// The cache file path for an image whose bytes hash to `contentHash`.
  public func entryPath(contentHash: String) -> String {
    "\(directory)/\(contentHash.prefix(2))/\(contentHash).f32"
  }

  /// The preprocessed image for the file at `path`, decoding it on a miss. Thread-safe. The
  /// file is read only to decode it, or when `digests` has no current record of it.
  public func image(path: String) throws -> MappedImage {
    let key: String
    do { key = try digests.sha256(ofFile: path) } catch {
      throw DatasetsError.decode(
        path: path, cause: "cannot read file (\(error.localizedDescription))")
    }
    let entry = entryPath(contentHash: key)
    if let mapped = map(entry) {
      bump(hit: true)
      return mapped
    }
    let scan = try ScanLoader.load(path: path)
    var values = [Float](repeating: 0, count: preprocessing.size * preprocessing.size)
    let window = values.withUnsafeMutableBufferPointer {
      preprocessing.applyPlane(scan, into: $0.baseAddress!)
    }
    try write(values, window: window, to: entry)
    bump(hit: false)
    guard let mapped = map(entry) else {
      throw DatasetsError.cache(path: entry, cause: "the entry just written cannot be mapped")
    }
    return mapped
  }

  private func bump(hit: Bool) {
    lock.lock()
    if hit { counters.hits += 1 } else { counters.misses += 1 }
    lock.unlock()
  }

  /// Header words 5–7: rule (1-based index in `Rule.allCases`, 0 = none) plus 256 when
  /// inverted; centre and width as Float32 bit patterns.
  static func encodeWindow(_ w: Preprocessing.AppliedWindow) -> [UInt32] {
    let rule = UInt32(Preprocessing.AppliedWindow.Rule.allCases.firstIndex(of: w.rule)! + 1)
    return [
      rule | (w.inverted ? 256 : 0), Float(w.center).bitPattern, Float(w.width).bitPattern,
    ]
  }

  static func decodeWindow(_ header: UnsafeBufferPointer<UInt32>) -> Preprocessing.AppliedWindow? {
    let rules = Preprocessing.AppliedWindow.Rule.allCases
    let code = Int(header[5] & 255)
    guard code >= 1, code <= rules.count else { return nil }
    return Preprocessing.AppliedWindow(
      rule: rules[code - 1], center: Double(Float(bitPattern: header[6])),
      width: Double(Float(bitPattern: header[7])), inverted: header[5] & 256 != 0)
  }

  private func write(_ values: [Float], window: Preprocessing.AppliedWindow, to entry: String)
    throws
  {
    let p = preprocessing
    var header = [UInt32](repeating: 0, count: TensorCache.headerBytes / 4)
    header[0] = TensorCache.magic
    header[1] = UInt32(p.version)
    header[2] = UInt32(p.size)
    header[3] = UInt32(p.size)
    header[4] = TensorCache.storedPlanes
    header.replaceSubrange(5..<8, with: TensorCache.encodeWindow(window))
    var data = Data()
    header.withUnsafeBytes { data.append(contentsOf: $0) }
    values.withUnsafeBytes { data.append(contentsOf: $0) }
    let dir = (entry as NSString).deletingLastPathComponent
    let temp = entry + ".tmp\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    do {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try data.write(to: URL(fileURLWithPath: temp))
      guard rename(temp, entry) == 0 else {
        throw DatasetsError.cache(path: entry, cause: "rename failed (errno \(errno))")
      }
    } catch let e as DatasetsError {
      throw e
    } catch {
      throw DatasetsError.cache(path: entry, cause: error.localizedDescription)
    }
  }

  /// Maps an entry if it exists and its header matches; nil otherwise (a corrupt entry is a miss).
  private func map(_ entry: String) -> MappedImage? {
    let fd = open(entry, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    let length = Int(st.st_size)
    let p = preprocessing
    guard length == TensorCache.entryBytes(p) else { return nil }
    guard let base = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
      return nil
    }
    guard TensorCache.isCurrent(base.assumingMemoryBound(to: UInt32.self), p) else {
      munmap(base, length)
      return nil
    }
    return MappedImage(
      entry: entry, base: base, length: length, height: p.size, width: p.size,
      channels: p.channels)
  }
}
