import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The SHA-256 of a file's bytes, remembered on disk against what `stat` says of the file, so
/// a dataset's images are read and hashed once, not on every run.
///
/// A record is `<directory>/<ab>/<SHA-256 of the absolute path>`: one line holding the file's
/// inode, size, modification time and status-change time (nanoseconds), then its SHA-256. A
/// lookup stats the file and reads that line; any field that differs means the file is read
/// and hashed again. The status-change time (ctime) is the kernel's: writing a file moves it,
/// and no program can set it back, so an image rewritten with the same size and its old
/// modification time restored still misses (`FileDigestTests`). A record is written to a
/// temporary name and renamed; a damaged or foreign one is a miss.
///
/// The device number is not in the record: the path already names the file system, and on a
/// cluster whose nodes mount the data over NFS each node sees its own device number for the
/// same file (the inode, size and times come from the server), so records written on one node
/// would miss on every other.
///
/// The tensor cache keys its entries by this digest and `DatasetFingerprint.content` hashes a
/// dataset with it: before, every run read every image file twice for these (3.1 GB per run
/// for a 40,000-image phantom whose entries were all cached).
public final class FileDigests: @unchecked Sendable {
  /// Where the records are.
  public let directory: String
  private let lock = NSLock()
  private var counters = (recalled: 0, computed: 0)

  /// The default folder: `digests/` under `cacheRoot()`.
  public static var defaultDirectory: String { cacheRoot().appendingPathComponent("digests").path }

  /// The records under `defaultDirectory` (one per process, so its counters add up).
  public static let shared = FileDigests(directory: defaultDirectory)

  /// Records kept in `directory` (created when first written).
  public init(directory: String) { self.directory = directory }

  /// (recalled from a record, computed by reading the file) since this object was made.
  public var statistics: (recalled: Int, computed: Int) {
    lock.withLock { (counters.recalled, counters.computed) }
  }

  /// The lower-case hex SHA-256 of the bytes of the file at `path`. Throws what reading the
  /// file throws.
  public func sha256(ofFile path: String) throws -> String {
    let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
    var st = stat()
    guard stat(absolute, &st) == 0 else {
      // Let the read report the reason in its own words.
      return try sha256Hex(ofFile: URL(fileURLWithPath: absolute))
    }
    let identity = [
      UInt64(st.st_ino), UInt64(st.st_size),
      UInt64(st.st_mtim.tv_sec), UInt64(st.st_mtim.tv_nsec),
      UInt64(st.st_ctim.tv_sec), UInt64(st.st_ctim.tv_nsec),
    ].map(String.init).joined(separator: " ")
    let name = sha256Hex(Data(absolute.utf8))
    let record = "\(directory)/\(name.prefix(2))/\(name)"
    if let text = try? String(contentsOfFile: record, encoding: .utf8),
      let digest = Self.digest(in: text, identity: identity)
    {
      lock.withLock { counters.recalled += 1 }
      return digest
    }
    let digest = try sha256Hex(ofFile: URL(fileURLWithPath: absolute))
    lock.withLock { counters.computed += 1 }
    write("\(identity) \(digest)\n", to: record)
    return digest
  }

  /// The digest a record holds when its identity fields equal `identity`.
  static func digest(in text: String, identity: String) -> String? {
    let line = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
    guard line.hasPrefix(identity + " ") else { return nil }
    let digest = line.dropFirst(identity.count + 1)
    guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else { return nil }
    return String(digest)
  }

  /// Writes a record atomically (Foundation writes a temporary file and renames it); a record
  /// that cannot be written only means the file is hashed again next time.
  private func write(_ text: String, to record: String) {
    let folder = (record as NSString).deletingLastPathComponent
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try? Data(text.utf8).write(to: URL(fileURLWithPath: record), options: .atomic)
  }
}
